"""An SMTP server for the tests (aiosmtpd, from Debian's python3-aiosmtpd), over real TCP.

Every message it accepts is written to DIR as <n>.eml. How it answers depends on the
recipient's local part:
  bounce...@   550 at RCPT (a permanent refusal: the notice is recorded as bounced)
  defer...@    451 at RCPT for the first two attempts, then accepted (temporary: retried)
  anything     250

    /usr/bin/python3 tests/smtp/sink.py PORT DIR [starttls|tls CERT KEY]
With starttls, it requires STARTTLS before a message; with tls, it speaks TLS from the first
byte (implicit TLS, as on port 465); either with the certificate chain CERT and its key KEY.
It prints "ready" once it listens, and runs until killed.
"""

import asyncio
import itertools
import os
import ssl
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.deferred = {}
        self.count = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if local.startswith("defer"):
            seen = self.deferred.get(address, 0)
            if seen < 2:
                self.deferred[address] = seen + 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.count)
        path = os.path.join(self.directory, "%06d.eml" % n)
        with open(path + ".part", "wb") as f:
            f.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".part", path)
        return "250 2.0.0 queued as %06d" % n


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    tls = {}
    if len(sys.argv) > 3:
        mode, cert, key = sys.argv[3:6]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "starttls":
            tls = {"tls_context": context, "require_starttls": True}
        else:
            tls = {"ssl_context": context}
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
