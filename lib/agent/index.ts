// SPDX-License-Identifier: GPL-2.0-only
export { Agent, AgentError } from './server';
export type { AgentOptions } from './server';
export { AgentClient, AgentClientError } from './client';
export type { AgentClientOptions, ContainerInfo, FileEntry, GroupEntry, HostEntry, MachineEntry, RangeEntry } from './client';
