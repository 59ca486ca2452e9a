-- Database rules that schema.prisma cannot express. The migrations create them too; the drift
-- test (tests/db/migrations.test.ts) applies this file after the schema's own script and compares.

-- A balance never goes below zero, whatever the code does
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_balance_non_negative" CHECK ("balance" >= 0);

-- At most one live (not CANCELLED or EXPIRED) subscription per user and service
CREATE UNIQUE INDEX "subscriptions_live_user_service_key" ON "subscriptions"("userId", "serviceId") WHERE "status" NOT IN ('CANCELLED', 'EXPIRED');

-- Transaction numbers TRX-YYYYMM-000001
CREATE SEQUENCE "transaction_number_seq";

-- Admission of a new instance (subscriptions.admission.ts), as migrations 20261202180000_admission_function
-- and 20261203030000_admission_owed create it
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

CREATE FUNCTION "admit_instance"(subscription_id text) RETURNS void
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

CREATE FUNCTION "refuse_unless"(ok boolean, code text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION '%', code;
  END IF;
  RETURN true;
END
$fn$;

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

CREATE INDEX "worker_nodes_admissible_idx" ON "worker_nodes"("id") WHERE "status" = 'ACTIVE' AND "isReady" AND "isSchedulable";

-- The node search (workers.list.ts): one trigram index on the searched columns joined by newlines
CREATE INDEX "worker_nodes_search_trgm_idx" ON "worker_nodes" USING GIN (("name" || E'\n' || "hostname" || E'\n' || "ipAddress" || E'\n' || "operatingSystem" || E'\n' || "architecture" || E'\n' || "cpuArchitecture") gin_trgm_ops);
