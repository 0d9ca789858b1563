// SPDX-License-Identifier: GPL-2.0-only
export { Agent, AgentError, ROUTES, isLoopbackAddress, openapiDocument, schemaRefOf } from './server';
export type { AgentOptions } from './server';
export { AgentClient, AgentClientError } from './client';
export type { AgentClientOptions, ContainerEntry, MachineEntry, MappingEntry } from './client';
