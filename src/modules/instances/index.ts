/**
 * Public surface of the instances module so far: the manifests (pure), the cluster driver (the only
 * code that calls Kubernetes) and its typed errors. The instance lifecycle, jobs and routes build on these.
 */
export {
  buildManifests, redactSecrets, newShortId, namespaceOf, hostOf,
  FIELD_MANAGER, APP_NAME, RESTARTED_AT_ANNOTATION,
  type InstanceInput, type ServiceInput, type ManifestConfig, type Manifest,
} from './instances.manifests.js';
export { validateManifests } from './instances.validation.js';
export {
  createClusterDriver, loadKubeConfig, findKubeconfig, describeCluster, usageValue,
  type ClusterDriver, type ClusterDriverOptions, type ClusterMode, type DeploymentObservation, type PodPlacement, type PodUsage,
} from './instances.kubernetes.js';
export { isClusterError, toClusterError, type ClusterError, type ClusterErrorInfo } from './instances.cluster-errors.js';
