import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { apply, eventually, kubeRequest } from '../helpers/kube.js';

let double: KubeDouble;
const ns = 'ctl';

beforeEach(async () => {
  double = await startKubeDouble({ readyDelayMs: 30, deadlineMsPerSecond: 20 });
  await kubeRequest(double, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterEach(async () => {
  await double.close();
});

type Spec = Record<string, unknown>;
const deploy = (name: string, podSpec: Spec = {}, spec: Spec = {}, annotations?: Record<string, string>) =>
  apply(double, `/apis/apps/v1/namespaces/${ns}/deployments/${name}`, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
    spec: {
      replicas: 1, strategy: { type: 'Recreate' }, progressDeadlineSeconds: 5, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name }, ...(annotations ? { annotations } : {}) }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', resources: { requests: { cpu: '100m', memory: '64Mi' } } }], ...podSpec } },
      ...spec,
    },
  });
const status = async (name: string) => (await kubeRequest(double, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).body;
const progressing = (d: { status?: { conditions?: { type: string; status: string; reason: string }[] } }) => d.status?.conditions?.find((c) => c.type === 'Progressing');
const pods = (name: string) => double.store.podsOf(ns, name) as { metadata: { name: string; labels: Record<string, string> }; spec: { nodeName?: string }; status: { phase: string; conditions?: { type: string; reason?: string; message?: string }[] } }[];

describe('kube double: deployment controller, scheduler and kubelet', () => {
  it('makes a Deployment available after the ready delay, with the status fields the Deployment controller writes', async () => {
    await deploy('web');
    await double.hooks.idle();
    const early = await status('web');
    expect(early.status).toMatchObject({ observedGeneration: 1 });
    expect(progressing(early)).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
    const done = await eventually(async () => {
      const d = await status('web');
      return progressing(d)?.reason === 'NewReplicaSetAvailable' ? d : undefined;
    });
    expect(done.status).toMatchObject({ observedGeneration: 1, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 });
    expect(done.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' })]));
    expect(pods('web')).toHaveLength(1);
    expect(pods('web')[0]).toMatchObject({ spec: { nodeName: 'kube-double-node' }, status: { phase: 'Running' } });
  });

  it('reports ProgressDeadlineExceeded for an image that cannot be pulled', async () => {
    await deploy('broken', { containers: [{ name: 'app', image: 'registry.invalid/nope:1' }] });
    const failed = await eventually(async () => {
      const d = await status('broken');
      return progressing(d)?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
    });
    expect(progressing(failed)).toMatchObject({ status: 'False' });
    expect(failed.status.availableReplicas).toBeUndefined();
    expect(pods('broken')[0]?.status.phase).toBe('Pending');
  });

  it('schedules by nodeSelector and NoSchedule taints, leaves an unplaceable pod Pending with the scheduler message', async () => {
    double.setNodes([
      { name: 'general-1' },
      { name: 'gpu-1', labels: { gpu: 'true' }, taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] },
      { name: 'cordoned', unschedulable: true },
    ]);
    await deploy('plain');
    await deploy('gpu', { nodeSelector: { gpu: 'true' }, tolerations: [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] });
    await deploy('picky', { nodeSelector: { gpu: 'true' } });
    await double.hooks.idle();
    expect(pods('plain')[0]?.spec.nodeName).toBe('general-1');
    expect(pods('gpu')[0]?.spec.nodeName).toBe('gpu-1');
    const stuck = pods('picky')[0];
    expect(stuck?.spec.nodeName).toBeUndefined();
    expect(stuck?.status.conditions?.[0]).toMatchObject({ type: 'PodScheduled', reason: 'Unschedulable' });
    expect(stuck?.status.conditions?.[0]?.message).toMatch(/^0\/3 nodes are available: .*untolerated taint \{gpu: true\}/);
    await eventually(async () => progressing(await status('picky'))?.reason === 'ProgressDeadlineExceeded');
    // A node that fits arrives: the pod is bound and the Deployment completes.
    double.setNodes([{ name: 'general-1' }, { name: 'gpu-2', labels: { gpu: 'true' } }]);
    await eventually(async () => progressing(await status('picky'))?.reason === 'NewReplicaSetAvailable');
    expect(pods('picky')[0]?.spec.nodeName).toBe('gpu-2');
  });

  it('removes the pods at replicas 0 and reports the scale-down complete; rolls the pods on a template annotation', async () => {
    await deploy('app');
    await eventually(async () => (await status('app')).status?.availableReplicas === 1);
    const firstPod = pods('app')[0]?.metadata.name;
    await deploy('app', {}, { replicas: 0 });
    await eventually(async () => pods('app').length === 0);
    const stopped = await status('app');
    expect(stopped.status).toMatchObject({ observedGeneration: 2 });
    expect(stopped.status.replicas).toBeUndefined();
    await deploy('app', {}, {}, { 'minispod.io/restarted-at': 'now' });
    await eventually(async () => (await status('app')).status?.availableReplicas === 1);
    expect(pods('app')[0]?.metadata.name).not.toBe(firstPod);
    await deploy('app', {}, {}, { 'minispod.io/restarted-at': 'later' });
    await double.hooks.idle();
    expect((await status('app')).status.observedGeneration).toBe(4);
  });

  it('follows manual readiness and the hooks that mark ready or fail a Deployment', async () => {
    double.hooks.setReadiness('manual');
    await deploy('held');
    await new Promise((r) => setTimeout(r, 80));
    expect(progressing(await status('held'))?.reason).toBe('ReplicaSetUpdated');
    double.hooks.markDeploymentReady(ns, 'held');
    await eventually(async () => progressing(await status('held'))?.reason === 'NewReplicaSetAvailable');
    await deploy('doomed');
    double.hooks.failDeployment(ns, 'doomed');
    await eventually(async () => progressing(await status('doomed'))?.reason === 'ProgressDeadlineExceeded');
  });

  it('binds a PersistentVolumeClaim', async () => {
    await apply(double, `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } } });
    const pvc = await eventually(async () => {
      const res = await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`);
      return res.body.status?.phase === 'Bound' ? res.body : undefined;
    });
    expect(pvc.status.capacity).toEqual({ storage: '5Gi' });
  });

  it('serves pod logs (tailLines, text/plain), refuses logs of a pod not started, and serves PodMetrics of running pods', async () => {
    await deploy('logger');
    await eventually(async () => pods('logger')[0]?.status.phase === 'Running');
    const pod = pods('logger')[0]?.metadata.name as string;
    double.hooks.appendPodLog(ns, pod, 'line 1', 'line 2', 'line 3');
    const log = await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/pods/${pod}/log?tailLines=2`);
    expect(log.headers.get('content-type')).toBe('text/plain');
    expect(log.text).toBe('line 2\nline 3\n');
    const metrics = await kubeRequest(double, 'GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`);
    expect(metrics.body).toMatchObject({ kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1' });
    expect(metrics.body.items[0]).toMatchObject({ metadata: { name: pod, namespace: ns }, containers: [{ name: 'app', usage: { cpu: '10000000n', memory: '32768Ki' } }] });
    await deploy('waiting', { containers: [{ name: 'app', image: 'registry.invalid/x:1' }] });
    await double.hooks.idle();
    const waiting = pods('waiting')[0]?.metadata.name as string;
    const refused = await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/pods/${waiting}/log`);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('is waiting to start');
  });
});
