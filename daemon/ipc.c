// SPDX-License-Identifier: GPL-2.0
/* Filled in by its owner; see ipc.h. */
#include "ipc.h"
