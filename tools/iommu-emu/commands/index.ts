// SPDX-License-Identifier: GPL-2.0-only
/** The command table: one entry per subcommand. */
import type { Command } from '../command';
import { catCommand } from './cat';
import { exportCommand } from './export';
import { hostsCommand } from './hosts';
import { irqCommand } from './irq';
import { mountCommand } from './mount';
import { recordCommand } from './record';
import { runCommand } from './run';
import { serveCommand } from './serve';
import { showCommand } from './show';
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
};
