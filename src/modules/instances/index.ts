/**
 * Public surface of the instances module: the manifests (pure), the cluster driver (the only code
 * that calls Kubernetes) and its typed errors, the instance lifecycle, its jobs and routes.
 */
export {
  buildManifests, redactSecrets, newShortId, namespaceOf, hostOf,
  FIELD_MANAGER, APP_NAME, RESTARTED_AT_ANNOTATION,
  type InstanceInput, type ServiceInput, type ManifestConfig, type Manifest,
} from './instances.manifests.js';
export { validateManifests } from './instances.validation.js';
export {
  createClusterDriver, loadKubeConfig, tokenKubeConfig, findKubeconfig, describeCluster, usageValue,
  type ClusterDriver, type ClusterDriverOptions, type ClusterMode, type DeploymentObservation, type PodPlacement, type PodUsage,
} from './instances.kubernetes.js';
export { isClusterError, toClusterError, type ClusterError, type ClusterErrorInfo } from './instances.cluster-errors.js';
export { clusterOf, connectCluster, noCluster, simulatedClusterAt, NO_CLUSTER_MESSAGE, type InstanceCluster } from './instances.cluster.js';
export { INSTANCE_TRANSITIONS, transitionInstance } from './instances.lifecycle.js';
export { instanceEffects, INSTANCE_QUEUES, type InstancesDeps } from './instances.provisioning.js';
export { instanceQueues, INSTANCE_QUEUE_INFO, CLUSTER_QUEUES } from './instances.jobs.js';
export { collectUsage, sweepOrphanNamespaces, usageWindow, ORPHANED_AT_ANNOTATION } from './instances.maintenance.js';
export { instancesModule } from './instances.module.js';
export { startSimulatedAgents, startSimulatedCluster } from './instances.simulated.js';
