"""dokja chat on a terminal (a pseudo-terminal here): a reply streams until
Ctrl-C stops it, the session goes on (commands answer, Ctrl-C at the prompt
is harmless), and Ctrl-D leaves with exit 0.  chat_tty.py DOKJA MODEL"""
import os
import pty
import select
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "chat", "--model", sys.argv[2], "--max-new-tokens", "100000", "--temperature", "1"])
out = b""


def pump(seconds, until=None):
    global out
    end = time.time() + seconds
    while time.time() < end and not (until and until in out):
        if select.select([fd], [], [], 0.05)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                return


pump(20, b"> ")
os.write(fd, b"hello there\r")
pump(0.5)
os.write(fd, b"\x03")  # stops the reply, not the session
pump(5, b"\n> ")
os.write(fd, b"/think\r")
pump(5, b"(thinking on)")
os.write(fd, b"\x03")  # at the prompt: a new prompt
os.write(fd, b"/reset\r")
pump(5, b"(conversation cleared)")
os.write(fd, b"\x04")
pump(5)
_, status = os.waitpid(pid, 0)
text = out.decode("utf8", "replace")
for want in ["(thinking on)", "(conversation cleared)"]:
    if want not in text:
        sys.exit(f"FAIL: the session did not answer {want!r}; screen: {text[-400:]!r}")
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    sys.exit(f"FAIL: chat did not leave cleanly on Ctrl-D ({status}); screen: {text[-400:]!r}")
