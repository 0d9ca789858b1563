// SPDX-License-Identifier: GPL-2.0-only
/**
 * The command table: one entry per subcommand. A command's module (and with it the emulator) is
 * loaded only when that command runs.
 */
import type { CommandEntry } from '../command';

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  show: {
    summary: 'show groups, devices, drivers and reserved regions of a host',
    usage: 'show [--host NAME|FILE] [--kernel VERSION] [--json] [--explain] [--agent URL [--machine ID] [--token T]]',
    load: () => import('./show').then((m) => m.showCommand),
  },
  cat: {
    summary: 'print one emulated file (e.g. /sys/kernel/iommu_groups/0/reserved_regions)',
    usage: 'cat PATH [--host NAME|FILE] [--kernel VERSION] [--agent URL [--machine ID] [--token T]]',
    load: () => import('./cat').then((m) => m.catCommand),
  },
  export: {
    summary: 'write the emulated sys/ tree (files, modes, relative links) into a new directory, or a .umockdev description',
    usage: 'export DIR|FILE [--format tree|umockdev] [--host NAME|FILE] [--kernel VERSION]',
    load: () => import('./export').then((m) => m.exportCommand),
  },
  hosts: {
    summary: 'list the built-in hosts',
    usage: 'hosts [--json]',
    load: () => import('./hosts').then((m) => m.hostsCommand),
  },
  mount: {
    summary: 'mount the emulated tree live at DIR (DIR/sys, DIR/dev) until SIGINT/SIGTERM; writes reach the model; without root via fusermount3',
    usage: 'mount DIR [--host NAME|FILE] [--kernel VERSION]',
    load: () => import('./mount').then((m) => m.mountCommand),
  },
  record: {
    summary: "record this machine's /sys (or a tree, or a .umockdev file) into a topology that replays it",
    usage: 'record [--root DIR | --from-umockdev FILE] [--out FILE] [--kernel V] [--arch A] [--name N] [--json] [--strict]',
    load: () => import('./record').then((m) => m.recordCommand),
  },
  run: {
    summary: 'run a program with the emulated /sys (and /dev/vfio) mounted live in a private mount namespace; writes reach the model; --static: a snapshot',
    usage: 'run [--host NAME|FILE] [--kernel VERSION] [--static] -- COMMAND [ARG…]',
    load: () => import('./run').then((m) => m.runCommand),
  },
  serve: {
    summary: 'serve machines over a small JSON HTTP API (loopback; a token is required elsewhere)',
    usage: 'serve [--host NAME|FILE] [--kernel V] [--listen 127.0.0.1:PORT] [--token T] [--max-body BYTES]',
    load: () => import('./serve').then((m) => m.serveCommand),
  },
  'vfio-info': {
    summary: 'attach one group to a VFIO container and print what VFIO_IOMMU_GET_INFO returns',
    usage: 'vfio-info --group N [--type1] [--host NAME|FILE] [--kernel VERSION] [--json]',
    load: () => import('./vfio_info').then((m) => m.vfioInfoCommand),
  },
  validate: {
    summary: 'check a sysfs tree (emulated, exported/recorded DIR, or this host with --live) against sysfs-schema/',
    usage: 'validate [DIR | --host NAME|FILE | --live] [--kernel VERSION] [--strict]',
    load: () => import('./validate').then((m) => m.validateCommand),
  },
};
