/* A module built for the module ABI before this worker's: test_module_api
 * checks that wasp-worker refuses to load it and says why. */
#include <wasp/module.h>

const struct wasp_module wasp_module = {
	.abi = WASP_MODULE_ABI - 1,
	.name = "OldAbiModule",
};
