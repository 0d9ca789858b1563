// SPDX-License-Identifier: GPL-2.0-only
/** Prints the C header of the run server's control channel (make writes it to build/native/). */
import { cHeader } from '../lib/server/channel';

process.stdout.write(cHeader());
