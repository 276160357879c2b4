// SPDX-License-Identifier: GPL-2.0
/* Filled in by its owner; see view.h. */
#include "view.h"
