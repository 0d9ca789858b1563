// SPDX-License-Identifier: GPL-2.0-only
/** The command table: one entry per subcommand. */
import type { Command } from '../command';
import { catCommand } from './cat';
import { checkGuestCommand } from './check_guest';
import { diffAbiCommand } from './diff_abi';
import { exportCommand } from './export';
import { hostsCommand } from './hosts';
import { irqCommand } from './irq';
import { mountCommand } from './mount';
import { mapCommand } from './map';
import { msiPlaceCommand } from './msi_place';
import { planCommand } from './plan';
import { recordCommand } from './record';
import { runCommand } from './run';
import { serveCommand } from './serve';
import { showCommand } from './show';
import { usableCommand } from './usable';
import { validateCommand } from './validate';
import { vfioInfoCommand } from './vfio_info';

export const COMMANDS: Readonly<Record<string, Command>> = {
  show: showCommand,
  cat: catCommand,
  export: exportCommand,
  hosts: hostsCommand,
  irq: irqCommand,
  mount: mountCommand,
  record: recordCommand,
  run: runCommand,
  serve: serveCommand,
  'vfio-info': vfioInfoCommand,
  validate: validateCommand,
  usable: usableCommand,
  'check-guest': checkGuestCommand,
  plan: planCommand,
  'msi-place': msiPlaceCommand,
  map: mapCommand,
  'diff-abi': diffAbiCommand,
};
