import { isObject, type Json, type JsonObject } from './kube-double.fields.js';

/**
 * The defaults the API server fills in on every write. They belong to no field manager, so an apply
 * that omits them neither conflicts nor changes anything, as against a real cluster.
 */
const setDefault = (o: JsonObject, key: string, value: Json) => {
  if (o[key] === undefined || o[key] === null) o[key] = value;
};

const objects = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isObject) : []);

function defaultProbe(probe: Json | undefined) {
  if (!isObject(probe)) return;
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  if (isObject(probe.httpGet)) setDefault(probe.httpGet, 'scheme', 'HTTP');
}

export function defaultPodSpec(spec: Json | undefined): void {
  if (!isObject(spec)) return;
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'securityContext', {});
  for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) {
    const image = typeof c.image === 'string' ? c.image : '';
    setDefault(c, 'imagePullPolicy', image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent');
    setDefault(c, 'terminationMessagePath', '/dev/termination-log');
    setDefault(c, 'terminationMessagePolicy', 'File');
    for (const p of objects(c.ports)) setDefault(p, 'protocol', 'TCP');
    defaultProbe(c.readinessProbe);
    defaultProbe(c.livenessProbe);
    defaultProbe(c.startupProbe);
  }
}

export function applyDefaults(kind: string, obj: JsonObject): void {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  switch (kind) {
    case 'Namespace': {
      const metadata = obj.metadata as JsonObject;
      metadata.labels = { ...(isObject(metadata.labels) ? metadata.labels : {}), 'kubernetes.io/metadata.name': String(metadata.name) };
      break;
    }
    case 'Secret':
      setDefault(obj, 'type', 'Opaque');
      // stringData is write-only: the API server folds it into data.
      if (isObject(obj.stringData)) {
        const data = isObject(obj.data) ? obj.data : {};
        for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
        obj.data = data;
        delete obj.stringData;
      }
      break;
    case 'Deployment':
      if (!spec) break;
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      setDefault(spec, 'strategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
      if (isObject(spec.strategy)) setDefault(spec.strategy, 'type', 'RollingUpdate');
      if (isObject(spec.template)) defaultPodSpec(spec.template.spec);
      break;
    case 'Pod':
      defaultPodSpec(spec);
      break;
    case 'Service':
      if (!spec) break;
      setDefault(spec, 'type', 'ClusterIP');
      setDefault(spec, 'sessionAffinity', 'None');
      setDefault(spec, 'internalTrafficPolicy', 'Cluster');
      for (const p of objects(spec.ports)) {
        setDefault(p, 'protocol', 'TCP');
        setDefault(p, 'targetPort', p.port ?? null);
      }
      break;
    case 'PersistentVolumeClaim':
      if (spec) setDefault(spec, 'volumeMode', 'Filesystem');
      break;
    case 'NetworkPolicy':
      if (!spec) break;
      setDefault(spec, 'policyTypes', spec.egress === undefined ? ['Ingress'] : ['Ingress', 'Egress']);
      for (const rule of [...objects(spec.ingress), ...objects(spec.egress)]) for (const p of objects(rule.ports)) setDefault(p, 'protocol', 'TCP');
      break;
    case 'Ingress':
      if (spec) for (const rule of objects(spec.rules)) for (const p of objects(isObject(rule.http) ? rule.http.paths : undefined)) setDefault(p, 'pathType', 'ImplementationSpecific');
      break;
  }
}

/** What the API server sets when an object is created (status phases, the namespace finalizer). */
export function initialize(kind: string, obj: JsonObject): void {
  if (kind === 'Namespace') {
    obj.spec = { ...(isObject(obj.spec) ? obj.spec : {}), finalizers: ['kubernetes'] };
    obj.status = { phase: 'Active' };
  }
  if (kind === 'PersistentVolumeClaim' || kind === 'Pod') obj.status = { phase: 'Pending' };
  if (kind === 'Service' && isObject(obj.spec) && obj.spec.type !== 'ExternalName' && obj.spec.clusterIP === undefined) {
    const ip = `10.96.${Math.floor(Math.random() * 254) + 1}.${Math.floor(Math.random() * 254) + 1}`;
    Object.assign(obj.spec, { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    obj.status = { loadBalancer: {} };
  }
}
