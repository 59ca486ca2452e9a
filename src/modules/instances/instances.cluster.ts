import type { Config, K8sMode } from '../../lib/config.js';
import { createClusterDriver, describeCluster, loadKubeConfig, tokenKubeConfig, type ClusterDriver } from './instances.kubernetes.js';
import type { KubeConfig } from '@kubernetes/client-node';

/** The cluster instances run on, as the rest of the module sees it: its mode and a driver, or none (`off`). */
export interface InstanceCluster {
  mode: K8sMode;
  driver: ClusterDriver | null;
  /** For the banner and logs: the API server and context, or why there is none. */
  description: string;
}

export const NO_CLUSTER_MESSAGE = 'no Kubernetes cluster configured';

export const noCluster = (mode: K8sMode = 'off'): InstanceCluster => ({ mode, driver: null, description: `off: instances stay PENDING (${NO_CLUSTER_MESSAGE}; set K8S_MODE)` });

/** A cluster from a KubeConfig (a real one, or the simulated double's). */
export function clusterOf(mode: K8sMode, kubeConfig: KubeConfig): InstanceCluster {
  const where = describeCluster(kubeConfig);
  const description = mode === 'simulated' ? `simulated (the Kubernetes API double at ${where.server}; nothing really runs)` : `${where.server} (context ${where.context}, ${mode})`;
  return { mode, driver: createClusterDriver({ kubeConfig }), description };
}

/** The simulated cluster's API double, reached with its token; the client is loaded with the first request. */
export function simulatedClusterAt(server: string, token: string): InstanceCluster {
  return { mode: 'simulated', driver: createClusterDriver({ kubeConfig: () => tokenKubeConfig(server, token) }), description: `simulated (the Kubernetes API double at ${server}; nothing really runs)` };
}

/** kubeconfig and in-cluster modes; `simulated` is started by the server (it needs the registry's nodes). */
export async function connectCluster(config: Pick<Config, 'kubernetes'>): Promise<InstanceCluster> {
  const { mode } = config.kubernetes;
  if (mode === 'kubeconfig' || mode === 'in-cluster') return clusterOf(mode, await loadKubeConfig(mode));
  return noCluster(mode);
}
