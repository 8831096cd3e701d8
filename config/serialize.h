/* A generation serialized for a worker (serialize.c) and read back
 * (deserialize.c): the framing both sides share, described at
 * wasp_config_serialize(). */
#pragma once

#define CFG_SERIAL_VERSION 3
#define CFG_SERIAL_MAX WASP_CONFIG_SERIAL_MAX
#define CFG_SERIAL_MAGIC "wasp-config 3\n"
