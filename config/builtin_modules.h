/* wasp's built-in modules, one line each (append new ones at the end):
 * X(symbol of the struct wasp_module, its name). worker/module.c's table
 * and the built-in <modules> list (config/defaults.c) are both made from
 * it; the worker checks at start that each module's .name is the one
 * listed here. */
#pragma once

#define WASP_BUILTIN_MODULES(X)                                                    \
	X(mod_static, "StaticFileModule")                                            \
	X(mod_defaultdoc, "DefaultDocumentModule")                                   \
	X(mod_dirlist, "DirectoryListingModule")                                     \
	X(mod_httplog, "HttpLoggingModule")                                          \
	X(mod_customerror, "CustomErrorModule")                                      \
	X(mod_requestfilter, "RequestFilteringModule")                               \
	X(mod_protocol, "ProtocolSupportModule")                                     \
	X(mod_redirect, "HttpRedirectionModule")                                     \
	X(mod_fastcgi, "FastCgiModule")                                              \
	X(mod_rewrite, "RewriteModule")                                              \
	X(mod_httpplatform, "httpPlatformHandler")                                   \
	X(mod_aspnetcore, "AspNetCoreModuleV2")                                      \
	X(mod_cgi, "CgiModule")                                                      \
	X(mod_arr, "ApplicationRequestRouting")                                      \
	X(mod_echo, "StreamEchoModule")                                              \
	X(mod_exec, "StreamExecModule")
