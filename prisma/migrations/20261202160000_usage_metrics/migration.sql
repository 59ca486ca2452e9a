-- CreateTable
CREATE TABLE "usage_metrics" (
    "id" TEXT NOT NULL,
    "instanceId" TEXT NOT NULL,
    "windowStart" TIMESTAMP(3) NOT NULL,
    "windowEnd" TIMESTAMP(3) NOT NULL,
    "cpuMillicores" INTEGER NOT NULL,
    "memoryBytes" BIGINT NOT NULL,
    "pods" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "usage_metrics_windowStart_idx" ON "usage_metrics"("windowStart");

-- CreateIndex
CREATE UNIQUE INDEX "usage_metrics_instanceId_windowStart_key" ON "usage_metrics"("instanceId", "windowStart");

-- AddForeignKey
ALTER TABLE "usage_metrics" ADD CONSTRAINT "usage_metrics_instanceId_fkey" FOREIGN KEY ("instanceId") REFERENCES "service_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

