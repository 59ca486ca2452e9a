import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';

/** What the agent tells the registry about this machine: capacity and node info, like a kubelet's node status. */
export interface NodeFacts {
  cpuCores: number;
  totalMemory: number;
  totalStorage: number;
  architecture: string;
  cpuArchitecture: string;
  operatingSystem: string;
  kernelVersion: string;
  osImage: string;
}

const MB = 2 ** 20;
// Kubernetes (Go) names for Node's process.arch values.
const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

async function osRelease(): Promise<Record<string, string>> {
  try {
    const text = await readFile('/etc/os-release', 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], (m[2] ?? '').replace(/^["']|["']$/g, '')]),
    );
  } catch {
    return {}; // not Linux, or a minimal image: fall back to the os module below
  }
}

const clip = (text: string, max: number) => text.trim().slice(0, max) || 'unknown';

/** Reads this machine's real CPU count, memory, disk (of `diskPath`) and OS facts. */
export async function collectFacts(diskPath = '/'): Promise<NodeFacts> {
  const release = await osRelease();
  const disk = await statfs(diskPath);
  const distro = [release.NAME, release.VERSION_ID].filter(Boolean).join(' ');
  return {
    cpuCores: Math.max(1, os.availableParallelism()),
    totalMemory: Math.floor(os.totalmem() / MB),
    totalStorage: Math.max(1, Math.floor((disk.blocks * disk.bsize) / MB)),
    architecture: GOARCH[process.arch] ?? process.arch,
    cpuArchitecture: clip(os.machine(), 32),
    operatingSystem: clip(distro || os.type(), 128),
    kernelVersion: clip(os.release(), 128),
    osImage: clip(release.PRETTY_NAME ?? `${os.type()} ${os.release()}`, 128),
  };
}
