import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Where client-node's standard loading order would find a cluster, or null (it would fall back to
 * localhost:8080). Kept apart from the driver so the config can pick K8S_MODE's default without
 * loading the Kubernetes client.
 */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function findKubeconfig(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): { source: 'KUBECONFIG' | 'home' | 'service-account'; path: string } | null {
  const first = (env.KUBECONFIG ?? '').split(delimiter).find((f) => f.length > 0);
  if (first) return existsSync(first) ? { source: 'KUBECONFIG', path: first } : null;
  const user = join(home, '.kube', 'config');
  if (existsSync(user)) return { source: 'home', path: user };
  if (existsSync(SERVICE_ACCOUNT_TOKEN) && env.KUBERNETES_SERVICE_HOST) return { source: 'service-account', path: SERVICE_ACCOUNT_TOKEN };
  return null;
}

/**
 * A KubeConfig for an API server reached with a bearer token (the Kubernetes API double, and the
 * simulated cluster that connects to it). The client is imported here, with the first call.
 */
export async function tokenKubeConfig(server: string, token: string): Promise<KubeConfig> {
  const kc = new (await import('@kubernetes/client-node')).KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'kube-double', server, skipTLSVerify: true }],
    users: [{ name: 'minispod', token }],
    contexts: [{ name: 'kube-double', cluster: 'kube-double', user: 'minispod', namespace: 'default' }],
    currentContext: 'kube-double',
  });
  return kc;
}
