// SPDX-License-Identifier: GPL-2.0-only
export { RecordError, SysSource, dirSource, memSource, DEFAULT_LIMITS } from './source';
export type { Limits, MemNode, NodeKind } from './source';
export { recordSys, unitDriverFromName, nodeArchToKernel } from './recorder';
export type { RecordOptions, RecordNote, Recording } from './recorder';
export { compareWithSource, summarizeDifferences } from './compare';
export type { Difference } from './compare';
export { formatTopology } from './emit';
export { writeFileAtomic } from '../hostfs';
export { openRecordRoot } from './root';
export type { OpenedRoot } from './root';
export { gStrcompress, gStrescape, importUmockdev, toUmockdev } from './umockdev';
export type { UmockdevExport, UmockdevImport, UmockdevImportOptions } from './umockdev';
