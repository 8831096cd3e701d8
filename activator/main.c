/* waspd's entry point: --test-config is answered here (activator/testconfig.c)
 * before anything of the daemon starts; everything else is daemon_main(). */
#include <stdio.h>
#include <string.h>

#include "testconfig.h"
#include "waspd.h"

int
main(int argc, char **argv)
{
	const char *config = NULL;
	bool test_config = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--test-config") == 0)
			test_config = true;
		else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
			 i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2])
			config = argv[i] + 2;
	}
	if (test_config)
		return testconfig_run(config ? config : WASPD_DEFAULT_CONFIG, stdout);
	return daemon_main(argc, argv);
}
