// SPDX-License-Identifier: GPL-2.0-only
/**
 * iommu-emu public API. kselftest/ and tools/ import only this module (and lib/uapi), exactly
 * as outside users do.
 */
export { Machine, createMachine } from './machine';
export type { MachineOptions, ModuleParams, NodeFs } from './machine';
export { DEFAULT_HOST, MAX_TOPOLOGY_BYTES, builtinHostNames, builtinHostPath, isTopologyPath, loadBuiltinHost, loadTopologyFile, resolveHost } from './hosts';
export type { LoadOptions } from './hosts';
export { HostFsError, canonicalDir, confinedFs, formatBytes, outputTarget, readRegularFile, readRegularTextFile, resolveInside } from './hostfs';
export type { ByteLimit, ConfinedFs } from './hostfs';
export { TOPOLOGY_GUIDE, TopologyError, parseTopology, topologyFromJSON, withKconfig } from './topology/topology';
export type { Kconfig, Topology, TopologyInput, DeviceInput, IommuInput, TopologyIssue, DeviceSpec, IommuSpec, FirmwareSpec, IommuDriver, RecordedResvRegion, ResvTypeName } from './topology/topology';
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
export { Agent, AgentClient, AgentClientError, AgentError, isLoopbackAddress, openapiDocument } from './agent';
export type { AgentClientOptions, AgentOptions, ContainerEntry, MachineEntry, MappingEntry } from './agent';
export { fileJson, hostJson, iommufdGroupJson, iommufdMatchesCore, machineReport, notOnKernel, rangeJson, u64Json, unavailable, usableRanges, vfioIommuInfoJson } from './report';
export type { DeviceJson, FileJson, GroupJson, HostJson, MachineReport, RangeJson, ReservedRegionJson, UnavailableJson, VfioIommuInfoJson } from './report';
export { AGENT_SCHEMA, CLI_SCHEMAS, COMMON_SCHEMA, schemaAjv } from './schemas';
export type { JsonSchema } from './schemas';
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
  preloadLibraryPath,
  preloadUnavailable,
  raiseIrqRemote,
  startHelper,
  PRELOAD_SOCKET,
  PreloadFrontEnd,
  loadNative,
  nativeDir,
} from './server';
export type { FuseIdentity, Helper, LiveMount, MountMode, NativeBinding, PreloadOptions, RunServerOptions } from './server';
export { RULES as VALIDATE_RULES, validateSysfsTree, violations } from './sysfs/validate';
export type { Finding, RuleId, Severity, SysfsFs, ValidateOptions } from './sysfs/validate';
export { explainGroupResvRegions, ignoredFirmware } from './iommu/explain';
export type { ExplainedRegion, IgnoredEntry } from './iommu/explain';
export * as vmm from './vmm';
export {
  GuestMapError,
  PresetError,
  CheckError,
  PlanError,
  FleetError,
  PRESETS,
  checkGuest,
  planFleet,
  placeMsiWindow,
  placeMsiForHost,
  resolveGuest,
  hostViewOfMachine,
  hostUsable,
  loadHost,
  loadAgentHosts,
  parseSize,
  formatSize,
  renderMapSvg,
  hostPicture,
  planPicture,
  mapHtml,
  usableJson,
  checkJson,
  planJson,
  msiPlaceJson,
  VMM_CLI_SCHEMAS,
  vmmSchemaAjv,
} from './vmm';
export type { GuestMap, GuestRegion, HostView, GroupView, CheckResult, Conflict, PlanResult, LayoutPlan, MsiPlacement, HostMsiPlacement, PlatformRegion } from './vmm';
export { PluginError, definePlugin, builtinIommuDriver, groupAttribute, unitAttribute, vfioType1InfoCapability, loadPluginFile, schemaWithPlugins, schemaFileBeside } from './plugin';
export type { AbiPlugin, Type1InfoView } from './plugin';
export type { Kernel, KernelModule } from './host';
export type { IommuOps } from './iommu/drivers';
export type { ResvDevice } from './model/host';
export type { RawSchemaFile } from './sysfs/schema';
export { ResvType as RESV_TYPE } from './model/resv_region';
export { resvRegion } from './model/resv_region';
export { MSI_IOVA_BASE, MSI_IOVA_LENGTH } from './iommu/arm_smmu';
export { usableIova } from './iommu/iommu';
export { diffAbi } from './abidiff';
export type { AbiDiff, TreeChange, IoctlChange } from './abidiff';

import type { Machine as MachineT } from './machine';
import { vfioRaiseIrq } from './vfio/vfio_pci_intrs';
/**
 * Play the device: it raises interrupt `vector` of IRQ index `index` (VFIO_PCI_MSIX_IRQ_INDEX,
 * VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_INTX_IRQ_INDEX), so the eventfd a program wired to it with
 * VFIO_DEVICE_SET_IRQS is signalled. Throws a KernelError: ENODEV when `bdf` is not an open VFIO
 * device, EINVAL when that interrupt is not enabled or has no eventfd.
 */
export function raiseIrq(m: MachineT, bdf: string, index: number, vector = 0): void {
  vfioRaiseIrq(m.kernelContext, bdf, index, vector);
}
