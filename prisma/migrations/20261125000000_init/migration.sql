-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('USER', 'ADMINISTRATOR');

-- CreateEnum
CREATE TYPE "ServiceStatus" AS ENUM ('ACTIVE', 'INACTIVE', 'DEPRECATED');

-- CreateEnum
CREATE TYPE "SubscriptionStatus" AS ENUM ('PENDING', 'ACTIVE', 'SUSPENDED', 'CANCELLED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "WorkerNodeStatus" AS ENUM ('ACTIVE', 'INACTIVE', 'MAINTENANCE', 'PENDING', 'NOT_READY');

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "password" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "lastLoginAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refresh_tokens" (
    "id" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "familyId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "userAgent" TEXT,
    "ipAddress" TEXT,

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_catalog" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "displayName" TEXT NOT NULL,
    "description" TEXT,
    "category" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "status" "ServiceStatus" NOT NULL DEFAULT 'ACTIVE',
    "dockerImage" TEXT,
    "containerPort" INTEGER,
    "monthlyPrice" INTEGER NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'IDR',
    "cpuRequest" TEXT NOT NULL,
    "cpuLimit" TEXT NOT NULL,
    "memRequest" TEXT NOT NULL,
    "memLimit" TEXT NOT NULL,
    "storage" TEXT,
    "environmentVars" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "service_catalog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "subscriptions" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "serviceId" TEXT NOT NULL,
    "status" "SubscriptionStatus" NOT NULL DEFAULT 'PENDING',
    "startDate" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endDate" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "worker_nodes" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "ipAddress" TEXT NOT NULL,
    "cpuCores" INTEGER NOT NULL,
    "cpuArchitecture" TEXT NOT NULL,
    "totalMemory" BIGINT NOT NULL,
    "totalStorage" BIGINT NOT NULL,
    "architecture" TEXT NOT NULL,
    "operatingSystem" TEXT NOT NULL,
    "status" "WorkerNodeStatus" NOT NULL DEFAULT 'PENDING',
    "statusReason" TEXT,
    "isReady" BOOLEAN NOT NULL DEFAULT false,
    "isSchedulable" BOOLEAN NOT NULL DEFAULT false,
    "maxPods" INTEGER NOT NULL DEFAULT 110,
    "currentPods" INTEGER NOT NULL DEFAULT 0,
    "allocatedCPU" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "allocatedMemory" BIGINT NOT NULL DEFAULT 0,
    "allocatedStorage" BIGINT NOT NULL DEFAULT 0,
    "labels" JSONB NOT NULL DEFAULT '{}',
    "taints" JSONB NOT NULL DEFAULT '[]',
    "kubeletVersion" TEXT,
    "containerRuntime" TEXT,
    "kernelVersion" TEXT,
    "osImage" TEXT,
    "lastHeartbeat" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastHealthCheck" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "agentTokenHash" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "worker_nodes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE INDEX "users_role_isActive_idx" ON "users"("role", "isActive");

-- CreateIndex
CREATE INDEX "users_isActive_idx" ON "users"("isActive");

-- CreateIndex
CREATE INDEX "users_createdAt_idx" ON "users"("createdAt");

-- CreateIndex
CREATE INDEX "users_name_idx" ON "users"("name");

-- CreateIndex
CREATE INDEX "users_updatedAt_idx" ON "users"("updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_tokenHash_key" ON "refresh_tokens"("tokenHash");

-- CreateIndex
CREATE INDEX "refresh_tokens_familyId_idx" ON "refresh_tokens"("familyId");

-- CreateIndex
CREATE INDEX "refresh_tokens_userId_idx" ON "refresh_tokens"("userId");

-- CreateIndex
CREATE INDEX "refresh_tokens_expiresAt_idx" ON "refresh_tokens"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "service_catalog_name_key" ON "service_catalog"("name");

-- CreateIndex
CREATE UNIQUE INDEX "service_catalog_slug_key" ON "service_catalog"("slug");

-- CreateIndex
CREATE INDEX "service_catalog_status_category_idx" ON "service_catalog"("status", "category");

-- CreateIndex
CREATE INDEX "service_catalog_category_idx" ON "service_catalog"("category");

-- CreateIndex
CREATE INDEX "service_catalog_createdAt_idx" ON "service_catalog"("createdAt");

-- CreateIndex
CREATE INDEX "service_catalog_monthlyPrice_idx" ON "service_catalog"("monthlyPrice");

-- CreateIndex
CREATE INDEX "service_catalog_updatedAt_idx" ON "service_catalog"("updatedAt");

-- CreateIndex
CREATE INDEX "subscriptions_userId_idx" ON "subscriptions"("userId");

-- CreateIndex
CREATE INDEX "subscriptions_serviceId_idx" ON "subscriptions"("serviceId");

-- CreateIndex
CREATE INDEX "subscriptions_status_idx" ON "subscriptions"("status");

-- CreateIndex
CREATE UNIQUE INDEX "worker_nodes_name_key" ON "worker_nodes"("name");

-- CreateIndex
CREATE UNIQUE INDEX "worker_nodes_hostname_key" ON "worker_nodes"("hostname");

-- CreateIndex
CREATE UNIQUE INDEX "worker_nodes_agentTokenHash_key" ON "worker_nodes"("agentTokenHash");

-- CreateIndex
CREATE INDEX "worker_nodes_status_idx" ON "worker_nodes"("status");

-- CreateIndex
CREATE INDEX "worker_nodes_isSchedulable_idx" ON "worker_nodes"("isSchedulable");

-- CreateIndex
CREATE INDEX "worker_nodes_isReady_idx" ON "worker_nodes"("isReady");

-- CreateIndex
CREATE INDEX "worker_nodes_lastHeartbeat_idx" ON "worker_nodes"("lastHeartbeat");

-- CreateIndex
CREATE INDEX "worker_nodes_createdAt_idx" ON "worker_nodes"("createdAt");

-- CreateIndex
CREATE INDEX "worker_nodes_ipAddress_idx" ON "worker_nodes"("ipAddress");

-- CreateIndex
CREATE INDEX "worker_nodes_cpuCores_idx" ON "worker_nodes"("cpuCores");

-- CreateIndex
CREATE INDEX "worker_nodes_totalMemory_idx" ON "worker_nodes"("totalMemory");

-- AddForeignKey
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_serviceId_fkey" FOREIGN KEY ("serviceId") REFERENCES "service_catalog"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

