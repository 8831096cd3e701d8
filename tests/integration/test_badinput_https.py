"""Bad-input suite, HTTPS: test_badinput_http.py's table, fuzz cases and
slowloris clients, every connection over TLS (an https binding): the same
answers through wasp-http's TLS relay, whose plaintext end the listener
core and the worker read as they read a TCP connection."""
import os
import runpy

os.environ["WASP_BADINPUT_TLS"] = "1"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_badinput_http.py"), run_name="__main__")
