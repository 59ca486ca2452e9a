-- Admission of a new instance, decided in the database (see src/modules/subscriptions/subscriptions.admission.ts):
-- the subscribing transaction calls admit_instance() last, and its COMMIT follows at once on the
-- server, so the admission lock is held for this function and the commit only

-- The plan's nodeSelector on each instance, as its requests already are: admission sums the
-- waiting instances that could land on a node without joining their subscriptions and services
ALTER TABLE "service_instances" ADD COLUMN     "nodeSelector" JSONB NOT NULL DEFAULT '{}';
UPDATE "service_instances" i SET "nodeSelector" = c."nodeSelector"
FROM "subscriptions" s JOIN "service_catalog" c ON c.id = s."serviceId"
WHERE s.id = i."subscriptionId";

-- Whether a pod with these tolerations may run on a node with these taints (only NoSchedule
-- taints keep it away), by Kubernetes' rule: a toleration without an effect matches every effect,
-- Exists without a key matches every taint, Equal compares key and value
CREATE FUNCTION "tolerates_taints"(taints jsonb, tolerations jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(taints) = 'array' THEN taints ELSE '[]'::jsonb END) t
    WHERE t->>'effect' = 'NoSchedule' AND NOT EXISTS (
      SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tolerations) = 'array' THEN tolerations ELSE '[]'::jsonb END) o
      WHERE (coalesce(o->>'effect', '') = '' OR o->>'effect' = t->>'effect')
        AND CASE WHEN coalesce(o->>'operator', 'Equal') = 'Exists' THEN coalesce(o->>'key', '') = '' OR o->>'key' = t->>'key'
                 ELSE o->>'key' IS NOT DISTINCT FROM t->>'key' AND coalesce(o->>'value', '') = coalesce(t->>'value', '') END))
$fn$;

-- Raises SOLD_OUT or NO_CAPACITY (SQLSTATE P0001) unless the subscription's new instance may be
-- admitted: the service has stock left, and a node that may run it has room for its requests,
-- with the requests of the other instances still waiting for a node set against the fleet.
-- Admissions run one at a time (the advisory lock, held until the commit), and each statement
-- after the lock reads what the admissions before it committed
CREATE FUNCTION "admit_instance"(subscription_id text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  s record;
  owed_cpu float8;
  owed_mem float8;
  n record;
  free_cpu float8;
  free_mem float8;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('minispod:admission'));
  SELECT c.id, c."maxInstances", c."nodeSelector", c.tolerations, i.id AS instance_id, i."cpuRequestMillis" AS cpu, i."memoryRequestMb" AS mem INTO s
  FROM subscriptions sub JOIN service_catalog c ON c.id = sub."serviceId" JOIN service_instances i ON i."subscriptionId" = sub.id
  WHERE sub.id = subscription_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'admit_instance: no instance for subscription %', subscription_id;
  END IF;
  IF s."maxInstances" IS NOT NULL AND (SELECT count(*) FROM subscriptions
      WHERE "serviceId" = s.id AND status IN ('PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED') AND id <> subscription_id) >= s."maxInstances" THEN
    RAISE EXCEPTION 'SOLD_OUT';
  END IF;
  -- Instances not on a node yet will take room somewhere: those that could land on these nodes count
  SELECT coalesce(sum(i."cpuRequestMillis"), 0), coalesce(sum(i."memoryRequestMb"), 0) INTO owed_cpu, owed_mem
  FROM service_instances i
  WHERE i.status IN ('PENDING', 'PROVISIONING') AND i."workerNodeId" IS NULL AND i.id <> s.instance_id AND i."nodeSelector" @> s."nodeSelector";
  -- Fitting nodes are read until their room covers what is wanted: usually the first one or two,
  -- the whole fleet only when it is short of room
  free_cpu := 0;
  free_mem := 0;
  FOR n IN
    SELECT floor((w."cpuCores" - w."allocatedCPU") * 1000) AS cpu, (w."totalMemory" - w."allocatedMemory")::float8 AS mem
    FROM worker_nodes w
    WHERE w.status = 'ACTIVE' AND w."isReady" AND w."isSchedulable" AND w.labels @> s."nodeSelector"
      AND floor((w."cpuCores" - w."allocatedCPU") * 1000) >= s.cpu AND w."totalMemory" - w."allocatedMemory" >= s.mem
      AND (NOT w.taints @> '[{"effect": "NoSchedule"}]'::jsonb OR tolerates_taints(w.taints, s.tolerations))
  LOOP
    free_cpu := free_cpu + n.cpu;
    free_mem := free_mem + n.mem;
    IF free_cpu >= s.cpu + owed_cpu AND free_mem >= s.mem + owed_mem THEN
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'NO_CAPACITY';
END
$fn$;

-- A script's way to stop where a condition fails: raises `code` (SQLSTATE P0001) unless ok
CREATE FUNCTION "refuse_unless"(ok boolean, code text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION '%', code;
  END IF;
  RETURN true;
END
$fn$;

-- The nodes admission reads: ready, schedulable and ACTIVE. Heartbeats
-- that do not change these columns stay HOT updates
CREATE INDEX "worker_nodes_admissible_idx" ON "worker_nodes"("id") WHERE "status" = 'ACTIVE' AND "isReady" AND "isSchedulable";
