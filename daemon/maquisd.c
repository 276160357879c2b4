// SPDX-License-Identifier: GPL-2.0
/* maquisd: being written; see daemon/ipc.h and daemon/view.h. */
#include <stdio.h>

int main(void)
{
	fputs("maquisd: not built yet\n", stderr);
	return 1;
}
