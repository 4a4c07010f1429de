/** The entities as the API serves them (contract §2, §15, §16, §18); only the fields the dashboard reads. */
export interface Project {
  id: string;
  name: string;
  workingDir: string;
  description: string;
  agent?: string;
  createdAt: number;
  updatedAt: number;
}

export type TaskStatus = 'todo' | 'in_progress' | 'completed' | 'cancelled' | 'blocked';
export const TASK_STATUSES: TaskStatus[] = ['todo', 'in_progress', 'blocked', 'completed', 'cancelled'];
export type Priority = 'low' | 'medium' | 'high';

export interface Task {
  id: string;
  projectId: string;
  parentId: string | null;
  title: string;
  description: string;
  status: TaskStatus;
  priority: Priority;
  sessionIds: string[];
  dependencies: string[];
  blockedBy?: string[];
  ready?: boolean;
  claim?: { sessionId: string; claimedAt: number; expiresAt: number; leaseMs: number };
  createdAt: number;
  updatedAt: number;
}

export interface TimelineEntry {
  id: string;
  type: string;
  timestamp: number;
  message?: string;
  taskId?: string;
}

export interface Session {
  id: string;
  projectId: string;
  taskIds: string[];
  name: string;
  status: string;
  strategy: string;
  startedAt: number;
  lastActivity: number;
  completedAt: number | null;
  hostname: string;
  host?: string | null;
  agent?: string | null;
  run?: null | { state: string; pid?: number; exitCode?: number | null; signal?: string | null; reason?: string };
  timeline: TimelineEntry[];
  metadata?: Record<string, unknown>;
}

export interface Host {
  name: string;
  hostname: string;
  platform: string;
  arch: string;
  version: string;
  agents: string[];
  local: boolean;
  status: 'online' | 'offline';
  connectedAt: number | null;
  lastSeen: number;
  sessions: number;
}

export interface Message {
  id: string;
  from: string;
  to: string;
  projectId: string;
  message: string;
  status: string;
  createdAt: number;
  readAt: number | null;
  metadata: { priority: Priority; type?: string; taskId?: string };
}

/** A WebSocket / event-log envelope (§4.2, §17). */
export interface Envelope {
  type: string;
  event?: string;
  data: any;
  timestamp: number;
  seq?: number;
  projectId?: string;
}

export const FINAL_SESSION = new Set(['completed', 'failed', 'stopped']);
