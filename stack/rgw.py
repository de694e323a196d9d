"""A Ceph Object Gateway (radosgw): a real S3 server that enforces what moto does not.

One node, all under one folder: a monitor (`ceph-mon`), one OSD and `radosgw` with the beast
frontend on 127.0.0.1 (plain HTTP, and HTTPS with a self-signed certificate made by `openssl` at
start). Throwaway by default: the OSD keeps its objects in memory (memstore) and `stop` deletes the
folder. `persistent=True` (what `make stack` runs) keeps them on disk instead, in a BlueStore block
file under the folder, and a later `start` resumes the same cluster (no mkfs when its data exists):
stopped, killed or restarted, the gateway loses nothing it acknowledged. SigV4, presigned-URL expiry, POST-policy
conditions and bucket policies are enforced as on a production Ceph cluster; `aws:SecureTransport`
is set only on HTTPS requests (absent, not "false", on HTTP). Debian's packages (16.2 on bookworm)
are apt-installed when missing and we are root. Starts in ~2 s; ~150 MiB resident.

Started as root, the daemons drop to Debian's `ceph` user (`--setuser ceph --setgroup ceph`);
they would run as root too, but nothing needs that. The client tools (`ceph`, `radosgw-admin`)
only talk to the daemons over loopback (no cephx: `auth ... required = none`).

Standard library only; used by the test harness (`stack.pytest_plugin`'s `rgw` fixture) and by
`Stack` for `make stack`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from stack.errors import StackError
from stack.postgres import run_all
from stack.processes import (
    ProcessId,
    free_ports,
    log_tail,
    port_free,
    signal_all,
    spawn,
    wait_until,
)
from stack.stack import apt_install

# The programs we run, and the Debian package that ships each.
BINARIES = {
    "ceph-mon": "ceph-mon",
    "ceph-osd": "ceph-osd",
    "radosgw": "radosgw",
    "radosgw-admin": "radosgw",
    "ceph": "ceph-common",
    "ceph-authtool": "ceph-common",
    "monmaptool": "ceph-base",
    "openssl": "openssl",
}
MON_CAP = ["--cap", "mon", "allow *"]
OPENSSL_REQ = [
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-days", "7", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
]  # fmt: skip
# RGW knows only STANDARD until these are added to the default placement target.
STORAGE_CLASSES = ("STANDARD_IA", "GLACIER_IR", "INTELLIGENT_TIERING", "GLACIER")
REGION = "us-east-1"  # RGW's default zonegroup accepts any SigV4 region; clients must send one
RGW_NAME = "client.rgw.pinsite"
CEPH_USER = "ceph"

MEMSTORE = """\
osd objectstore = memstore
memstore device bytes = 1073741824"""
# The block file (osd data/block) is sparse: it takes on disk only what is written. The caches are pinned small (BlueStore
# would otherwise size them for a 4 GiB memory target); a one-node cluster keeps ~150 MiB.
BLUESTORE = """\
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 21474836480
bluestore cache autotune = false
bluestore cache size = 33554432
bluestore fsck on mount = false
osd memory target = 536870912
rocksdb cache size = 16777216"""
# What a persistent gateway keeps between starts besides its data (ports are in the monmap).
STATE_FILE = "gateway.json"

CONF = """\
[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = {root}/run
crash dir = {root}/crash
pid file = {root}/run/$name.pid
mon data = {root}/mon/$cluster-$id
osd data = {root}/osd/$cluster-$id
keyring = {root}/mon.keyring
{objectstore}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
# The monitor shuts itself down when its disk is under 5 % free; the store here is tiny.
mon data avail crit = 0
osd crush chooseleaf type = 0
# On start the OSD would place itself in the CRUSH map, with a command that carries the cluster
# fsid as its monitor client knows it: sometimes still all zeros, which the monitor refuses
# ('wrong fsid') and the OSD exits. We place it with `ceph osd crush add` before it starts.
osd crush update on start = false
osd class update on start = false
client mount timeout = 30
rados mon op timeout = 30
rados osd op timeout = 60
# Each pool radosgw creates is an osdmap change, which the monitor batches for 1 s by default:
# the bootstrap took ~13 s with that, ~2 s with this.
paxos propose interval = 0.01
paxos min wait = 0.001

[mon]
log file = {root}/log/$name.log
mon cluster log file = {root}/log/$cluster.$channel.log
[osd]
log file = {root}/log/$name.log
[{rgw_name}]
log file = {root}/log/$name.log
rgw frontends = {frontends}
rgw thread pool size = 64
rgw enable usage log = false
"""


def _http_status(port: int, tls: bool = False) -> int:
    """The status of an anonymous `GET /`, or 0 when nothing answers yet."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # only asks whether it answers; clients verify
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=5, context=context
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def ensure_binaries() -> None:
    """apt-get install the packages of whichever programs are missing (root only)."""
    missing = sorted({pkg for name, pkg in BINARIES.items() if not shutil.which(name)})
    apt_install(missing, recommends=False)  # ceph-mgr, ceph-mds, ...: ~50 packages unused here


def _gone(proc: ProcessId) -> bool:
    return not proc.alive()


class RadosGateway:
    """One Ceph cluster with an S3 gateway, living in `folder`.

    Throwaway (`stop` deletes the folder) unless `persistent`; then `stop` only stops the daemons
    and the next `start` resumes the cluster, with the same keys and monitor port.
    """

    def __init__(
        self,
        folder: Path,
        *,
        port: int = 0,
        tls_port: int = 0,
        tls: bool = True,
        persistent: bool = False,
        access_key: str | None = None,
        secret_key: str | None = None,
    ):
        self.folder = Path(folder).absolute()
        self.tls = tls
        self.persistent = persistent
        self._requested = (port, tls_port)
        self.port, self.tls_port, self.mon_port = port, tls_port, 0
        self.retried: str | None = None
        self.resumed = False
        self.access_key = access_key or "PINSITE" + secrets.token_hex(6).upper()
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.region = REGION
        self.timings: dict[str, float] = {}
        self._procs: dict[str, ProcessId] = {}
        self._as_ceph = os.geteuid() == 0

    # -- what clients need ---------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_endpoint_url(self) -> str | None:
        return f"https://127.0.0.1:{self.tls_port}" if self.tls else None

    @property
    def ca_bundle(self) -> Path:
        """The self-signed certificate, to verify the HTTPS endpoint against."""
        return self.folder / "tls" / "rgw.crt"

    @property
    def conf(self) -> Path:
        return self.folder / "ceph.conf"

    @property
    def logs(self) -> Path:
        return self.folder / "log"

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._procs.items() if proc.alive()}

    def processes(self) -> dict[str, ProcessId]:
        """The daemons started here, by name (mon, osd, radosgw), alive or not."""
        return dict(self._procs)

    def adopt(self, processes: dict[str, ProcessId]) -> None:
        """Take over daemons another process started (e.g. to stop them, as `Stack` does)."""
        self._procs = dict(processes)

    @property
    def bootstrapped(self) -> bool:
        """Whether the folder holds a cluster a persistent gateway can resume."""
        return (self.folder / STATE_FILE).exists()

    def memory_kib(self) -> int:
        """Resident memory of the three daemons together (VmRSS)."""
        total = 0
        for pid in self.pids().values():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> None:
        """Install what is missing, then resume the persistent cluster or bootstrap a new one.

        A bootstrap was seen to fail now and then and work when retried. The cause found here
        (the OSD's start-up CRUSH update racing its monitor client, see CONF) is avoided; for
        anything else a failed attempt is torn down and tried once more from scratch (on fresh
        ports, unless given) before StackError is raised. `retried` keeps the first error. A
        failed resume is never retried from scratch: that would wipe the data.
        """
        if self.pids():
            raise StackError(f"the gateway under {self.folder} is already running")
        began = time.monotonic()
        ensure_binaries()
        self.timings["install"] = time.monotonic() - began
        if self.persistent and self.bootstrapped:
            try:
                self._resume()
            except BaseException:
                self._kill(graceful=True)
                raise
            self.timings["start"] = time.monotonic() - began
            return
        for attempt in (1, 2):
            try:
                self._bootstrap()
            except StackError as error:
                self._kill()
                if attempt == 2:
                    raise
                self.retried = str(error)
            except BaseException:
                self._kill()
                raise
            else:
                break
        self.timings["start"] = time.monotonic() - began

    def stop(self) -> None:
        """Stop the daemons started here (by pid); a throwaway gateway's folder is deleted too.
        Safe to repeat."""
        self._kill(graceful=True)
        if not self.persistent:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _kill(self, graceful: bool = False) -> None:
        # radosgw first (it would otherwise retry the OSD for a while). A throwaway cluster's
        # data is disposable, so it gets a short grace period; a persistent OSD is given time
        # to close its store cleanly (it would survive SIGKILL, but replays its log then).
        grace = 20.0 if self.persistent else 3.0
        for name in ("radosgw", "osd", "mon"):
            proc = self._procs.pop(name, None)
            if proc is None or not proc.alive():
                continue
            if graceful:
                signal_all([proc.pid], signal.SIGTERM)
                if wait_until(partial(_gone, proc), grace, 0.02):
                    continue
            signal_all([proc.pid], signal.SIGKILL)
            wait_until(partial(_gone, proc), 5.0, 0.02)

    def _resume(self) -> None:
        """Start the daemons of the cluster already in the folder: no mkfs, same data."""
        t = time.monotonic()
        state = json.loads((self.folder / STATE_FILE).read_text())
        self.mon_port = state["mon_port"]
        self.access_key, self.secret_key = state["access_key"], state["secret_key"]
        port, tls_port = self._requested
        self.port = port or state["port"]
        self.tls_port = (tls_port or state.get("tls_port") or 0) if self.tls else 0
        taken = [p for p in (self.mon_port, self.port, self.tls_port) if p and not port_free(p)]
        if taken:
            raise StackError(f"ports {taken} on 127.0.0.1 are taken by other programs")
        self._write_conf(state["fsid"])
        self._give_to_ceph()
        self._spawn("mon", self._daemon(["ceph-mon", "-f", "-i", "a"]))
        self._spawn("osd", self._daemon(["ceph-osd", "-f", "-i", "0"]))
        self._spawn("radosgw", self._daemon(["radosgw", "-f", "-n", RGW_NAME]))
        self._wait_http(timeout=90.0)
        self._save_state(state["fsid"])
        self.resumed = True
        self.timings["bootstrap"] = time.monotonic() - t

    def _save_state(self, fsid: str) -> None:
        state = {
            "fsid": fsid,
            "mon_port": self.mon_port,
            "port": self.port,
            "tls_port": self.tls_port,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
        }
        path = self.folder / STATE_FILE
        path.with_suffix(".tmp").write_text(json.dumps(state, indent=2) + "\n")
        path.with_suffix(".tmp").chmod(0o600)  # holds the secret key
        path.with_suffix(".tmp").replace(path)

    def _write_conf(self, fsid: str) -> None:
        store = BLUESTORE if self.persistent else MEMSTORE
        self.conf.write_text(
            CONF.format(
                fsid=fsid,
                mon_port=self.mon_port,
                root=self.folder,
                rgw_name=RGW_NAME,
                frontends=self._frontends(),
                objectstore=store.format(root=self.folder),
            )
        )

    # -- the bootstrap ---------------------------------------------------------------------

    def _bootstrap(self) -> None:
        t = time.monotonic()
        self._prepare_folder()
        self._pick_ports()
        fsid, osd_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        self._write_conf(fsid)
        monmap, keyring = self.folder / "monmap", self.folder / "mon.keyring"
        mon_addr = f"v1:127.0.0.1:{self.mon_port}"
        self._run(["monmaptool", "--create", "--fsid", fsid, "--add", "a", mon_addr, str(monmap)])
        # Unused without cephx, but `ceph-mon --mkfs` insists on a keyring.
        self._run(
            ["ceph-authtool", "--create-keyring", str(keyring), "--gen-key", "-n", "mon.", *MON_CAP]
        )
        if self.tls:
            self._make_certificate()
        self._give_to_ceph()
        # The monitor's and the OSD's stores are made in parallel: the OSD's mkfs needs only
        # the fsid (from ceph.conf) and its uuid, not a running monitor.
        mkfs = [
            self._daemon(["ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap)]),
            self._daemon(
                ["ceph-osd", "--mkfs", "-i", "0", "--osd-uuid", osd_uuid, "--no-mon-config"]
            ),
        ]
        run_all(mkfs)
        self._spawn("mon", self._daemon(["ceph-mon", "-f", "-i", "a"]))
        self._ceph(["osd", "create", osd_uuid, "0"])  # waits for the monitor to answer
        self._ceph(["osd", "crush", "add", "osd.0", "1.0", "host=localhost", "root=default"])
        self._spawn("osd", self._daemon(["ceph-osd", "-f", "-i", "0"]))
        # Creates the default zonegroup, zone and their pools (waiting for the OSD to serve).
        user = ["--uid", "pinsite", "--display-name", "pinsite tests"]
        keys = ["--access-key", self.access_key, "--secret", self.secret_key]
        self._admin(["user", "create", *user, *keys])
        for storage_class in STORAGE_CLASSES:
            target = ["--placement-id", "default-placement", "--storage-class", storage_class]
            pool = ["--data-pool", f"default.rgw.{storage_class.lower()}.data"]
            self._admin(["zonegroup", "placement", "add", "--rgw-zonegroup", "default", *target])
            self._admin(["zone", "placement", "add", "--rgw-zone", "default", *target, *pool])
        # Started after the placement changes, so no restart is needed to see them.
        self._spawn("radosgw", self._daemon(["radosgw", "-f", "-n", RGW_NAME]))
        self._wait_http()
        if self.persistent:
            self._save_state(fsid)  # last: only a complete cluster is ever resumed
        self.timings["bootstrap"] = time.monotonic() - t

    def _frontends(self) -> str:
        beast = f"beast endpoint=127.0.0.1:{self.port}"
        if self.tls:
            tls = self.folder / "tls"
            beast += f" ssl_endpoint=127.0.0.1:{self.tls_port}"
            beast += f" ssl_certificate={tls / 'rgw.crt'} ssl_private_key={tls / 'rgw.key'}"
        return beast

    def _prepare_folder(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)  # the folder is ours alone
        created = [d for d in [self.folder, *self.folder.parents] if not d.exists()]
        for sub in ("run", "log", "crash", "mon/ceph-a", "osd/ceph-0", "tls"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        if self._as_ceph:
            self._let_ceph_in(created)

    def _let_ceph_in(self, created: Sequence[Path]) -> None:
        """Make sure the ceph user can reach the folder (as Stack does for postgres)."""
        ceph_uid = pwd.getpwnam(CEPH_USER).pw_uid
        temp = Path(tempfile.gettempdir()).resolve()
        for folder in self.folder.resolve().parents:
            info = folder.stat()
            if info.st_mode & 0o001 or info.st_uid == ceph_uid:
                continue
            if folder in created:
                folder.chmod(0o755)  # mkdir's umask may have shut the ceph user out
            elif temp in folder.parents and info.st_uid == 0:
                folder.chmod(info.st_mode | 0o011)  # our own 0700 temp folder: pass through
            else:
                raise StackError(
                    f"the {CEPH_USER} user cannot enter {folder} (mode"
                    f" {oct(info.st_mode & 0o777)}): choose a folder others may traverse (o+x)"
                )

    def _give_to_ceph(self) -> None:
        if not self._as_ceph:
            return
        user = pwd.getpwnam(CEPH_USER)
        for path in [self.folder, *self.folder.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _pick_ports(self) -> None:
        port, tls_port = self._requested
        taken = [p for p in (port, tls_port if self.tls else 0) if p and not port_free(p)]
        if taken:
            raise StackError(f"ports {taken} on 127.0.0.1 are taken by other programs")
        fresh = free_ports(3)
        self.mon_port = fresh[0]
        self.port = port or fresh[1]
        self.tls_port = (tls_port or fresh[2]) if self.tls else 0

    def _make_certificate(self) -> None:
        """A self-signed P-256 certificate for 127.0.0.1 (~10 ms), valid for a week."""
        tls = self.folder / "tls"
        files = ["-keyout", str(tls / "rgw.key"), "-out", str(tls / "rgw.crt")]
        self._run([*OPENSSL_REQ, *files])

    # -- running things ----------------------------------------------------------------------

    def _daemon(self, argv: list[str]) -> list[str]:
        argv = [*argv, "-c", str(self.conf)]
        return [*argv, "--setuser", CEPH_USER, "--setgroup", CEPH_USER] if self._as_ceph else argv

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._procs[name] = spawn(argv, self.logs / f"{name}.out")

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if not proc.alive():
                raise StackError(f"ceph {name} exited\n{self._log_tails()}")

    def _log_tails(self) -> str:
        logs = sorted(self.logs.glob("*.log")) + sorted(self.logs.glob("*.out"))
        return "\n".join(log_tail(log, 15) for log in logs)

    def _run(self, argv: list[str], timeout: float = 60) -> str:
        """Run a tool; fails at once (with the logs) if one of our daemons dies meanwhile."""
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                out = proc.communicate(timeout=0.1)[0]
                break
            except subprocess.TimeoutExpired:
                dead = [name for name, daemon in self._procs.items() if not daemon.alive()]
                if dead or time.monotonic() > deadline:
                    proc.kill()
                    proc.communicate()
                    why = f"ceph {dead[0]} exited" if dead else f"timed out after {timeout} s"
                    raise StackError(f"{' '.join(argv[:4])}: {why}\n{self._log_tails()}") from None
        if proc.returncode != 0:
            raise StackError(
                f"{' '.join(argv)} exited {proc.returncode}:\n"
                f"{out.strip()[-2000:]}\n{self._log_tails()}"
            )
        return out

    def _ceph(self, args: list[str]) -> str:
        # A client that reaches a new monitor before it has settled may send an all-zero fsid and
        # be refused ("problem getting command descriptions"); asking again a moment later works.
        for attempt in range(5):
            try:
                return self._run(["ceph", "-c", str(self.conf), "--connect-timeout", "30", *args])
            except StackError as error:
                if "problem getting command descriptions" not in str(error) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _admin(self, args: list[str]) -> str:
        return self._run(["radosgw-admin", "-c", str(self.conf), *args])

    def _wait_http(self, timeout: float = 30.0) -> None:
        ports = [self.port, *([self.tls_port] if self.tls else [])]

        def answering() -> bool:
            self._check_alive()
            return all(_http_status(port, tls=i == 1) == 200 for i, port in enumerate(ports))

        if not wait_until(answering, timeout, 0.05):
            raise StackError(f"radosgw did not answer HTTP on {ports}\n{self._log_tails()}")
