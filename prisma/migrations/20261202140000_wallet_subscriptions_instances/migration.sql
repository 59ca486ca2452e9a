-- CreateEnum
CREATE TYPE "SuspendedBy" AS ENUM ('BILLING', 'ADMIN');

-- CreateEnum
CREATE TYPE "InstanceStatus" AS ENUM ('PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED', 'STOPPED', 'FAILED', 'DELETING', 'DELETED');

-- CreateEnum
CREATE TYPE "TransactionType" AS ENUM ('TOPUP', 'CHARGE', 'REFUND', 'ADJUSTMENT');

-- CreateEnum
CREATE TYPE "TransactionStatus" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "PaymentProvider" AS ENUM ('MANUAL', 'MIDTRANS');

-- AlterEnum
ALTER TYPE "SubscriptionStatus" ADD VALUE 'PAST_DUE' AFTER 'ACTIVE';

-- DropIndex
DROP INDEX "subscriptions_userId_idx";

-- DropIndex
DROP INDEX "subscriptions_status_idx";

-- AlterTable
ALTER TABLE "service_catalog" ADD COLUMN     "planGroup" TEXT,
ADD COLUMN     "maxInstances" INTEGER,
ADD COLUMN     "healthPath" TEXT,
ADD COLUMN     "dataMountPath" TEXT,
ADD COLUMN     "nodeSelector" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "tolerations" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "subscriptions" ADD COLUMN     "currentPeriodStart" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "currentPeriodEnd" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "billingAnchorDay" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "priceAmount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "currency" TEXT NOT NULL DEFAULT 'IDR',
ADD COLUMN     "cancelAtPeriodEnd" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "pendingServiceId" TEXT,
ADD COLUMN     "graceEndsAt" TIMESTAMP(3),
ADD COLUMN     "suspendedAt" TIMESTAMP(3),
ADD COLUMN     "suspendedBy" "SuspendedBy",
ADD COLUMN     "cancelledAt" TIMESTAMP(3),
ADD COLUMN     "endedAt" TIMESTAMP(3),
ADD COLUMN     "cancelReason" TEXT,
ADD COLUMN     "idempotencyKey" TEXT;

-- Rows from before: their period is the month from their start, at the catalog price
UPDATE "subscriptions" s SET "currentPeriodStart" = s."startDate",
  "currentPeriodEnd" = coalesce(s."endDate", s."startDate" + interval '1 month'),
  "billingAnchorDay" = extract(day FROM s."startDate")::int,
  "priceAmount" = c."monthlyPrice", "currency" = c."currency"
FROM "service_catalog" c WHERE c.id = s."serviceId";

-- CreateTable
CREATE TABLE "service_instances" (
    "id" TEXT NOT NULL,
    "subscriptionId" TEXT NOT NULL,
    "status" "InstanceStatus" NOT NULL DEFAULT 'PENDING',
    "shortId" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "workerNodeId" TEXT,
    "nodeName" TEXT,
    "readyReplicas" INTEGER NOT NULL DEFAULT 0,
    "provisionAttempts" INTEGER NOT NULL DEFAULT 0,
    "userRetries" INTEGER NOT NULL DEFAULT 0,
    "cpuRequestMillis" INTEGER NOT NULL DEFAULT 0,
    "memoryRequestMb" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "lastTransitionAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastReconciledAt" TIMESTAMP(3),
    "credentialsEncrypted" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "service_instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wallets" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "balance" INTEGER NOT NULL DEFAULT 0,
    "currency" TEXT NOT NULL DEFAULT 'IDR',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "wallets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transactions" (
    "id" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "walletId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "type" "TransactionType" NOT NULL,
    "status" "TransactionStatus" NOT NULL,
    "amount" INTEGER NOT NULL,
    "balanceAfter" INTEGER,
    "subscriptionId" TEXT,
    "description" TEXT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "provider" "PaymentProvider" NOT NULL DEFAULT 'MANUAL',
    "providerRef" TEXT,
    "createdBy" TEXT,
    "paymentDetails" JSONB,
    "expiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "transactions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "service_instances_subscriptionId_key" ON "service_instances"("subscriptionId");

-- CreateIndex
CREATE UNIQUE INDEX "service_instances_shortId_key" ON "service_instances"("shortId");

-- CreateIndex
CREATE UNIQUE INDEX "service_instances_namespace_key" ON "service_instances"("namespace");

-- CreateIndex
CREATE UNIQUE INDEX "service_instances_host_key" ON "service_instances"("host");

-- CreateIndex
CREATE INDEX "service_instances_status_lastReconciledAt_idx" ON "service_instances"("status", "lastReconciledAt");

-- CreateIndex
CREATE INDEX "service_instances_status_workerNodeId_idx" ON "service_instances"("status", "workerNodeId");

-- CreateIndex
CREATE INDEX "service_instances_workerNodeId_idx" ON "service_instances"("workerNodeId");

-- CreateIndex
CREATE INDEX "service_instances_createdAt_idx" ON "service_instances"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "wallets_userId_key" ON "wallets"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "transactions_number_key" ON "transactions"("number");

-- CreateIndex
CREATE UNIQUE INDEX "transactions_idempotencyKey_key" ON "transactions"("idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "transactions_providerRef_key" ON "transactions"("providerRef");

-- CreateIndex
CREATE INDEX "transactions_userId_createdAt_idx" ON "transactions"("userId", "createdAt");

-- CreateIndex
CREATE INDEX "transactions_userId_type_status_createdAt_idx" ON "transactions"("userId", "type", "status", "createdAt");

-- CreateIndex
CREATE INDEX "transactions_subscriptionId_idx" ON "transactions"("subscriptionId");

-- CreateIndex
CREATE INDEX "transactions_status_expiresAt_idx" ON "transactions"("status", "expiresAt");

-- CreateIndex
CREATE INDEX "service_catalog_planGroup_idx" ON "service_catalog"("planGroup");

-- CreateIndex
CREATE UNIQUE INDEX "subscriptions_idempotencyKey_key" ON "subscriptions"("idempotencyKey");

-- CreateIndex
CREATE INDEX "subscriptions_userId_createdAt_idx" ON "subscriptions"("userId", "createdAt");

-- CreateIndex
CREATE INDEX "subscriptions_status_currentPeriodEnd_idx" ON "subscriptions"("status", "currentPeriodEnd");

-- CreateIndex
CREATE INDEX "subscriptions_status_graceEndsAt_idx" ON "subscriptions"("status", "graceEndsAt");

-- CreateIndex
CREATE INDEX "subscriptions_status_suspendedAt_idx" ON "subscriptions"("status", "suspendedAt");

-- CreateIndex
CREATE INDEX "subscriptions_createdAt_idx" ON "subscriptions"("createdAt");

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_pendingServiceId_fkey" FOREIGN KEY ("pendingServiceId") REFERENCES "service_catalog"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_instances" ADD CONSTRAINT "service_instances_subscriptionId_fkey" FOREIGN KEY ("subscriptionId") REFERENCES "subscriptions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_instances" ADD CONSTRAINT "service_instances_workerNodeId_fkey" FOREIGN KEY ("workerNodeId") REFERENCES "worker_nodes"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_walletId_fkey" FOREIGN KEY ("walletId") REFERENCES "wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_subscriptionId_fkey" FOREIGN KEY ("subscriptionId") REFERENCES "subscriptions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- What schema.prisma cannot say (also in prisma/schema-extras.sql, which the drift test applies)
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_balance_non_negative" CHECK ("balance" >= 0);
CREATE UNIQUE INDEX "subscriptions_live_user_service_key" ON "subscriptions"("userId", "serviceId") WHERE "status" NOT IN ('CANCELLED', 'EXPIRED');
CREATE SEQUENCE "transaction_number_seq";
