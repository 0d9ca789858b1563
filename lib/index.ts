// SPDX-License-Identifier: GPL-2.0-only
/**
 * iommu-emu public API. kselftest/ and tools/ import only this module (and lib/uapi), exactly
 * as outside users do.
 */
export { Machine, createMachine } from './machine';
export type { MachineOptions, ModuleParams } from './machine';
export { DEFAULT_HOST, MAX_TOPOLOGY_BYTES, builtinHostNames, builtinHostPath, isTopologyPath, loadBuiltinHost, loadTopologyFile, resolveHost } from './hosts';
export type { LoadOptions } from './hosts';
export { HostFsError, canonicalDir, confinedFs, formatBytes, outputTarget, readRegularFile, readRegularTextFile, resolveInside } from './hostfs';
export type { ByteLimit, ConfinedFs } from './hostfs';
export { TOPOLOGY_GUIDE, TopologyError, parseTopology, topologyFromJSON } from './topology/topology';
export type { Kconfig, Topology, TopologyInput, TopologyIssue, DeviceSpec, IommuSpec, FirmwareSpec, IommuDriver, RecordedResvRegion, ResvTypeName } from './topology/topology';
export { KERNEL_PROFILES, FEATURES, KernelProfile, kernelProfile } from './kernel/profile';
export type { Feature } from './kernel/profile';
export { parseKernelVersion, compareKernelVersion } from './kernel/version';
export { ERRNO, KernelError, errnoName, errnoNumber, isKernelError, kerr, strerror } from './errno';
export type { Errno } from './errno';
export { ROOT, user } from './cred';
export type { Credentials, Capability } from './cred';
export { ResvType, RESV_TYPE_STRING, formatResvRegion, mergeResvRegions } from './model/resv_region';
export type { ResvRegion } from './model/resv_region';
export { U64_MAX, hex64 } from './model/iova';
export type { IovaRange } from './model/iova';
export type { IommuGroup, PciDevice, IommuUnit, DomainType } from './model/host';
export * as abi from './abi';
export * from './uapi';

export { errnoOf, getStruct, must, putStruct, tryReadAttr, tryWriteAttr } from './user/sys';
export type { RawSys } from './user/sys';
export { EXPORT_METADATA_FILE, ExportError, exportTree, walkEmulated } from './export/export';
export type { ExportOptions, ExportResult, TreeEntry } from './export/export';
export {
  DEFAULT_LIMITS as RECORD_DEFAULT_LIMITS,
  RecordError,
  SysSource,
  compareWithSource,
  dirSource,
  formatTopology,
  importUmockdev,
  memSource,
  openRecordRoot,
  recordSys,
  summarizeDifferences,
  toUmockdev,
  writeFileAtomic,
} from './record';
export type { Difference, Limits, MemNode, OpenedRoot, RecordNote, RecordOptions, Recording, UmockdevExport, UmockdevImport } from './record';
export { vfio, vfioInfo, VfioContainerHandle, VfioGroupHandle, VfioDeviceHandle } from './user/vfio';
export type { VfioInfo, Type1Info, DmaMapArgs } from './user/vfio';
export { iommufd, iommufdInfo, IommufdHandle, VfioCdevHandle } from './user/iommufd';
export type { IommufdInfo } from './user/iommufd';
export { eventfd, eventfdCtx } from './fs/eventfd';
export type { EventfdCtx } from './fs/eventfd';
export { Agent, AgentClient, AgentClientError, AgentError } from './agent';
export type { AgentClientOptions, AgentOptions, ContainerInfo, FileEntry, GroupEntry, HostEntry, MachineEntry, RangeEntry } from './agent';
export {
  CONTROL_SOCKET,
  IOMMU_EMU_MAGIC,
  MountError,
  RunServer,
  SysfsFuse,
  cHeader,
  directMountArgs,
  directMountOptions,
  helperPath,
  isMounted,
  liveMountMode,
  mountLive,
  openDirect,
  startHelper,
} from './server';
export type { FuseIdentity, Helper, LiveMount, MountMode, RunServerOptions } from './server';
export { RULES as VALIDATE_RULES, validateSysfsTree, violations } from './sysfs/validate';
export type { Finding, RuleId, Severity, SysfsFs, ValidateOptions } from './sysfs/validate';
export { explainGroupResvRegions, ignoredFirmware } from './iommu/explain';
export type { ExplainedRegion, IgnoredEntry } from './iommu/explain';
