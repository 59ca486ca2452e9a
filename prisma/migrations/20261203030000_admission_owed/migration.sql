-- What admission sets against the fleet, kept as running sums (see admit_instance below): with
-- every waiting instance summed at each admission, the lock's work grew with their number

-- CreateTable
CREATE TABLE "admission_owed" (
    "selector" TEXT NOT NULL,
    "nodeSelector" JSONB NOT NULL,
    "cpuMillis" BIGINT NOT NULL DEFAULT 0,
    "memoryMb" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "admission_owed_pkey" PRIMARY KEY ("selector")
);

-- CreateTable
CREATE TABLE "admission_owed_changes" (
    "id" BIGSERIAL NOT NULL,
    "nodeSelector" JSONB NOT NULL,
    "cpuMillis" BIGINT NOT NULL,
    "memoryMb" BIGINT NOT NULL,

    CONSTRAINT "admission_owed_changes_pkey" PRIMARY KEY ("id")
);

-- The instances waiting now
INSERT INTO "admission_owed" ("selector", "nodeSelector", "cpuMillis", "memoryMb")
SELECT "nodeSelector"::text, "nodeSelector", sum("cpuRequestMillis"), sum("memoryRequestMb") FROM "service_instances"
WHERE "status" IN ('PENDING', 'PROVISIONING') AND "workerNodeId" IS NULL GROUP BY "nodeSelector";

-- Appends a change of the waiting instances' requests (see admission_owed): a row leaving the
-- waiting set takes its requests back, a row entering it adds them
CREATE FUNCTION "admission_owed_change"() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.status IN ('PENDING', 'PROVISIONING') AND OLD."workerNodeId" IS NULL THEN
    INSERT INTO admission_owed_changes ("nodeSelector", "cpuMillis", "memoryMb") VALUES (OLD."nodeSelector", -OLD."cpuRequestMillis", -OLD."memoryRequestMb");
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status IN ('PENDING', 'PROVISIONING') AND NEW."workerNodeId" IS NULL THEN
    INSERT INTO admission_owed_changes ("nodeSelector", "cpuMillis", "memoryMb") VALUES (NEW."nodeSelector", NEW."cpuRequestMillis", NEW."memoryRequestMb");
  END IF;
  RETURN NULL;
END
$fn$;

-- TRUNCATE skips row triggers: emptying the instances empties what is owed
CREATE FUNCTION "admission_owed_reset"() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM admission_owed_changes;
  DELETE FROM admission_owed;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER "service_instances_admission_owed" AFTER INSERT OR DELETE ON "service_instances"
FOR EACH ROW EXECUTE FUNCTION "admission_owed_change"();
-- Updates that leave the waiting set and the requests alone (most of them) do not call the function
CREATE TRIGGER "service_instances_admission_owed_update" AFTER UPDATE ON "service_instances"
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD."workerNodeId" IS DISTINCT FROM NEW."workerNodeId"
  OR OLD."cpuRequestMillis" <> NEW."cpuRequestMillis" OR OLD."memoryRequestMb" <> NEW."memoryRequestMb" OR OLD."nodeSelector" <> NEW."nodeSelector")
EXECUTE FUNCTION "admission_owed_change"();
CREATE TRIGGER "service_instances_admission_owed_truncate" AFTER TRUNCATE ON "service_instances"
FOR EACH STATEMENT EXECUTE FUNCTION "admission_owed_reset"();

-- Admission reads the running sums instead of every waiting instance
CREATE OR REPLACE FUNCTION "admit_instance"(subscription_id text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  service_id text;
  max_instances int;
  node_selector jsonb;
  node_tolerations jsonb;
  want_cpu float8;
  want_mem float8;
  owed_cpu float8;
  owed_mem float8;
  n record;
  free_cpu float8 := 0;
  free_mem float8 := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('minispod:admission'));
  SELECT c.id, c."maxInstances", i."nodeSelector", c.tolerations, i."cpuRequestMillis", i."memoryRequestMb"
  INTO service_id, max_instances, node_selector, node_tolerations, want_cpu, want_mem
  FROM subscriptions sub JOIN service_catalog c ON c.id = sub."serviceId" JOIN service_instances i ON i."subscriptionId" = sub.id
  WHERE sub.id = subscription_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'admit_instance: no instance for subscription %', subscription_id;
  END IF;
  IF max_instances IS NOT NULL AND (SELECT count(*) FROM subscriptions
      WHERE "serviceId" = service_id AND status IN ('PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED') AND id <> subscription_id) >= max_instances THEN
    RAISE EXCEPTION 'SOLD_OUT';
  END IF;
  -- Instances not on a node yet will take room somewhere: those that could land on these nodes
  -- count, this one among them. The changes committed since the last admission (and this
  -- transaction's own) are folded in first; the lock makes this the only fold running
  WITH moved AS (DELETE FROM admission_owed_changes RETURNING "nodeSelector", "cpuMillis", "memoryMb")
  INSERT INTO admission_owed AS o (selector, "nodeSelector", "cpuMillis", "memoryMb")
  SELECT m."nodeSelector"::text, m."nodeSelector", sum(m."cpuMillis"), sum(m."memoryMb") FROM moved m GROUP BY m."nodeSelector"
  ON CONFLICT (selector) DO UPDATE SET "cpuMillis" = o."cpuMillis" + excluded."cpuMillis", "memoryMb" = o."memoryMb" + excluded."memoryMb";
  SELECT coalesce(sum(o."cpuMillis"), 0), coalesce(sum(o."memoryMb"), 0) INTO owed_cpu, owed_mem
  FROM admission_owed o WHERE o."nodeSelector" @> node_selector;
  -- Fitting nodes are read until their room covers what is wanted: usually the first one or two,
  -- the whole fleet only when it is short of room
  FOR n IN
    SELECT floor((w."cpuCores" - w."allocatedCPU") * 1000) AS cpu, (w."totalMemory" - w."allocatedMemory")::float8 AS mem
    FROM worker_nodes w
    WHERE w.status = 'ACTIVE' AND w."isReady" AND w."isSchedulable" AND w.labels @> node_selector
      AND floor((w."cpuCores" - w."allocatedCPU") * 1000) >= want_cpu AND w."totalMemory" - w."allocatedMemory" >= want_mem
      AND (NOT w.taints @> '[{"effect": "NoSchedule"}]'::jsonb OR tolerates_taints(w.taints, node_tolerations))
  LOOP
    free_cpu := free_cpu + n.cpu;
    free_mem := free_mem + n.mem;
    IF free_cpu >= owed_cpu AND free_mem >= owed_mem THEN
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'NO_CAPACITY';
END
$fn$;
