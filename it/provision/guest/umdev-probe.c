/*
 * umdev-probe: the guest's measuring instrument, linked statically into the busybox initramfs.
 *
 * Every result is exactly one line on stdout:  "@umdev <kind> key=value key=value ..."
 * Values never contain spaces; lists are comma-separated; "-" means none. The host-side parser
 * (io.umdev.it.ResultLine) depends on this format: change both together and bump PROTOCOL in /init.
 *
 *   umdev-probe pci                              one "pci" line per PCI function
 *   umdev-probe virtio                           one "virtio" line per virtio device
 *   umdev-probe blk DEV SEQ_MIB RAND_OPS INTEGRITY_MIB SEED
 *                                                "blk-dev", "blk-seq" x2, "blk-rand" x2, "blk-integrity"
 *   umdev-probe net-link IFACE                   one "net-link" line
 *   umdev-probe net-recv PORT TIMEOUT_S          one "net-tcp role=recv" line
 *   umdev-probe net-send ADDR PORT MIB TIMEOUT_S one "net-tcp role=send" line
 *   umdev-probe net-queues IFACE                 one "net-queues" line: the rx/tx queues the driver enabled
 *   umdev-probe net-ctrl IFACE MAC GROUP         control-queue commands (MAC, promisc, allmulti, multicast
 *                                                group): one "net-ctrl" line
 *   umdev-probe blk-acked DEV SEED COUNT         numbered O_DSYNC 4 KiB writes, one "blk-ack" line per
 *                                                acknowledged block (COUNT 0: to the end of the span)
 *   umdev-probe boot DEV                         counts boots in the disk's last block: one "boot" line
 *   umdev-probe virtio-loop VIRTIO_ID WAIT_S     a malformed driver: a descriptor loop on queue 0 of the
 *                                                first such function, then reset and rebind: "virtio-loop"
 *   umdev-probe dma SEED HOLD_S                  drives umdev's sample DMA engine (1234:11e9): one "dma"
 *                                                line per operation, then waits HOLD_S seconds
 *
 * Failures print an "error" line and exit non-zero.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ULL * 1024ULL)
#define SEQ_BLOCK MIB                /* sequential I/O size */
#define RAND_BLOCK 4096ULL           /* random I/O size */
#define SPAN_LIMIT (256ULL * MIB)    /* benchmarks stay within the first 256 MiB of the disk */
#define SEQ_WARMUP_OPS 4             /* untimed I/Os before each timed run */
#define RAND_WARMUP_OPS 32
#define PCI_CONFIG_MAX 4096
#define PCI_STD_HEADER 256
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_HEADER_TYPE 0x0e
#define PCI_CAP_PTR 0x34
#define PCI_CARDBUS_CAP_PTR 0x14
#define PCI_CAP_WALK_LIMIT 48        /* a looping capability list must not hang the guest */
#define PCI_BARS 6
#define PCI_ROM_RESOURCE 6
#define IORESOURCE_IO 0x00000100UL
#define IORESOURCE_MEM 0x00000200UL
#define IORESOURCE_PREFETCH 0x00002000UL
#define IORESOURCE_MEM_64 0x00100000UL
#define NET_CHUNK (64 * 1024)
#define NET_CONNECT_RETRY_MS 200
#define LIST_MAX 2048
#define DIR_MAX 512                  /* sysfs directories we build; file paths get PATH_MAX */

static const char *const PREFIX = "@umdev";

/* ---------- output ---------- */

static void emit(const char *kind, const char *fmt, ...) {
    va_list ap;
    printf("%s %s ", PREFIX, kind);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Error lines keep the no-spaces rule: strerror's spaces become underscores. */
static int fail(const char *workload, const char *step, const char *subject) {
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(errno));
    for (char *p = reason; *p; p++) {
        if (*p == ' ') *p = '_';
    }
    emit("error", "workload=%s step=%s subject=%s errno=%d reason=%s", workload, step,
         subject && *subject ? subject : "-", errno, reason);
    return 1;
}

/* Appends to a comma-separated list held in a fixed buffer. */
static void list_add(char *list, size_t cap, const char *fmt, ...) {
    size_t len = strlen(list);
    if (len && len + 1 < cap) list[len++] = ',';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(list + len, cap - len, fmt, ap);
    va_end(ap);
}

static const char *or_none(const char *list) { return *list ? list : "-"; }

/* ---------- small file helpers ---------- */

static int read_text(const char *dir, const char *name, char *buf, size_t cap) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
    return 0;
}

static unsigned long long read_number(const char *dir, const char *name, unsigned long long fallback) {
    char buf[64];
    if (read_text(dir, name, buf, sizeof buf) != 0) return fallback;
    return strtoull(buf, NULL, 0);
}

/* Basename of the symlink dir/name ("-" when absent), e.g. the bound driver. */
static void link_name(const char *dir, const char *name, char *out, size_t cap) {
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
        snprintf(out, cap, "-");
        return;
    }
    target[n] = 0;
    snprintf(out, cap, "%s", basename(target));
}

/* The PCI function a device hangs off ("-" when none): the nearest ancestor named like 0000:00:03.0. */
static void pci_ancestor(const char *sysdir, char *out, size_t cap) {
    char real[PATH_MAX];
    snprintf(out, cap, "-");
    if (!realpath(sysdir, real)) return;
    for (char *slash = strrchr(real, '/'); slash; slash = strrchr(real, '/')) {
        unsigned dom, bus, slot, fn;
        char tail;
        if (sscanf(slash + 1, "%x:%x:%x.%x%c", &dom, &bus, &slot, &fn, &tail) == 4) {
            snprintf(out, cap, "%s", slash + 1);
            return;
        }
        *slash = 0;
    }
}

static int sorted_entries(const char *dir, struct dirent ***out) {
    return scandir(dir, out, NULL, alphasort);
}

static int is_dot(const char *name) { return name[0] == '.'; }

/* ---------- pci ---------- */

static void pci_bars(const char *dir, char *list, size_t cap) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/resource", dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    unsigned long long start, end, flags;
    for (int i = 0; i <= PCI_ROM_RESOURCE && fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3; i++) {
        if (end == 0 || end < start) continue;
        const char *type = (flags & IORESOURCE_IO) ? "io"
                         : (flags & IORESOURCE_MEM_64) ? "mem64"
                         : "mem32";
        const char *pref = (flags & IORESOURCE_PREFETCH) ? "p" : "";
        if (i == PCI_ROM_RESOURCE) type = "rom";
        char index[8];
        if (i < PCI_BARS) snprintf(index, sizeof index, "%d", i);
        else snprintf(index, sizeof index, "rom");
        list_add(list, cap, "%s:%s%s:0x%llx:0x%llx", index, type, i == PCI_ROM_RESOURCE ? "" : pref,
                 start, end - start + 1);
    }
    fclose(f);
}

static void pci_caps(const unsigned char *cfg, size_t len, char *caps, size_t ccap, char *ecaps, size_t ecap) {
    if (len < 0x40) return;
    if (cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST) {
        unsigned ptr = cfg[(cfg[PCI_HEADER_TYPE] & 0x7f) == 2 ? PCI_CARDBUS_CAP_PTR : PCI_CAP_PTR] & ~3u;
        for (int guard = 0; ptr >= 0x40 && ptr + 1 < PCI_STD_HEADER && guard < PCI_CAP_WALK_LIMIT; guard++) {
            list_add(caps, ccap, "0x%02x@0x%02x", cfg[ptr], ptr);
            ptr = cfg[ptr + 1] & ~3u;
        }
    }
    unsigned off = PCI_STD_HEADER;
    for (int guard = 0; off >= PCI_STD_HEADER && off + 4 <= len && guard < PCI_CAP_WALK_LIMIT; guard++) {
        uint32_t header;
        memcpy(&header, cfg + off, sizeof header);
        if (header == 0 || header == 0xffffffffu) break;
        list_add(ecaps, ecap, "0x%04x@0x%03x", header & 0xffff, off);
        off = (header >> 20) & 0xffc;
    }
}

static int cmd_pci(void) {
    const char *root = "/sys/bus/pci/devices";
    struct dirent **entries;
    int n = sorted_entries(root, &entries);
    if (n < 0) return fail("pci", "scandir", root);
    for (int i = 0; i < n; i++) {
        const char *slot = entries[i]->d_name;
        if (is_dot(slot)) continue;
        char dir[DIR_MAX], path[PATH_MAX], driver[128];
        snprintf(dir, sizeof dir, "%s/%s", root, slot);
        unsigned char cfg[PCI_CONFIG_MAX];
        ssize_t len = 0;
        snprintf(path, sizeof path, "%s/config", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            len = pread(fd, cfg, sizeof cfg, 0);
            close(fd);
        }
        if (len < 0) len = 0;
        char bars[LIST_MAX] = "", caps[LIST_MAX] = "", ecaps[LIST_MAX] = "";
        pci_bars(dir, bars, sizeof bars);
        pci_caps(cfg, (size_t)len, caps, sizeof caps, ecaps, sizeof ecaps);
        link_name(dir, "driver", driver, sizeof driver);
        emit("pci",
             "slot=%s vendor=0x%04llx device=0x%04llx subsys_vendor=0x%04llx subsys_device=0x%04llx "
             "class=0x%06llx revision=0x%02llx irq=%llu config_bytes=%zd driver=%s bars=%s caps=%s ecaps=%s",
             slot, read_number(dir, "vendor", 0), read_number(dir, "device", 0),
             read_number(dir, "subsystem_vendor", 0), read_number(dir, "subsystem_device", 0),
             read_number(dir, "class", 0), read_number(dir, "revision", 0), read_number(dir, "irq", 0),
             len, driver, or_none(bars), or_none(caps), or_none(ecaps));
    }
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
    return 0;
}

/* ---------- virtio ---------- */

/* sysfs "features" is one '0'/'1' character per feature bit, bit 0 first. */
static unsigned long long feature_bits(const char *text) {
    unsigned long long bits = 0;
    for (int i = 0; text[i] && i < 64; i++) {
        if (text[i] == '1') bits |= 1ULL << i;
    }
    return bits;
}

static int cmd_virtio(void) {
    const char *root = "/sys/bus/virtio/devices";
    struct dirent **entries;
    int n = sorted_entries(root, &entries);
    if (n < 0) return fail("virtio", "scandir", root);
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (is_dot(name)) continue;
        char dir[DIR_MAX], features[256] = "", driver[128], transport[64];
        snprintf(dir, sizeof dir, "%s/%s", root, name);
        read_text(dir, "features", features, sizeof features);
        link_name(dir, "driver", driver, sizeof driver);
        pci_ancestor(dir, transport, sizeof transport);
        emit("virtio", "name=%s device_id=0x%04llx vendor=0x%04llx status=0x%02llx features=0x%016llx "
             "transport=%s driver=%s",
             name, read_number(dir, "device", 0), read_number(dir, "vendor", 0),
             read_number(dir, "status", 0), feature_bits(features), transport, driver);
    }
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
    return 0;
}

/* ---------- timing, randomness, checksums ---------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the integrity pattern generator. The host regenerates the same stream from the seed. */
static uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t crc_table[256];

static void crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 (IEEE, as java.util.zip.CRC32); pass 0 to start, the result to continue. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p) {
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

/* ---------- blk ---------- */

struct disk {
    const char *name;
    int fd;
    uint64_t span; /* benchmark region: [0, span) */
    unsigned char *buf;
};

static ssize_t do_io(const struct disk *d, int write, unsigned char *buf, size_t len, uint64_t off) {
    return write ? pwrite(d->fd, buf, len, (off_t)off) : pread(d->fd, buf, len, (off_t)off);
}

static int blk_seq(const struct disk *d, int write, uint64_t total) {
    const char *op = write ? "write" : "read";
    uint64_t off = 0;
    if (total == 0) return 0;
    for (int i = 0; i < SEQ_WARMUP_OPS; i++) {
        if (do_io(d, write, d->buf, SEQ_BLOCK, (uint64_t)i * SEQ_BLOCK % d->span) != (ssize_t)SEQ_BLOCK)
            return fail("blk", write ? "seq-write" : "seq-read", d->name);
    }
    uint64_t start = now_ns();
    for (uint64_t done = 0; done < total; done += SEQ_BLOCK) {
        if (do_io(d, write, d->buf, SEQ_BLOCK, off) != (ssize_t)SEQ_BLOCK)
            return fail("blk", write ? "seq-write" : "seq-read", d->name);
        off += SEQ_BLOCK;
        if (off + SEQ_BLOCK > d->span) off = 0;
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    emit("blk-seq", "dev=%s op=%s bs=%llu bytes=%" PRIu64 " seconds=%.6f mb_per_s=%.1f", d->name, op,
         SEQ_BLOCK, total, seconds, (double)total / seconds / 1e6);
    return 0;
}

static int blk_rand(const struct disk *d, int write, uint64_t ops, uint64_t seed) {
    const char *op = write ? "write" : "read";
    uint64_t blocks = d->span / RAND_BLOCK, state = seed ^ (write ? 0x5752 : 0x5244);
    if (ops == 0) return 0;
    uint64_t *lat = calloc(ops, sizeof *lat);
    if (!lat) return fail("blk", "alloc", d->name);
    for (int i = 0; i < RAND_WARMUP_OPS; i++) {
        if (do_io(d, write, d->buf, RAND_BLOCK, next_random(&state) % blocks * RAND_BLOCK) != (ssize_t)RAND_BLOCK) {
            free(lat);
            return fail("blk", write ? "rand-write" : "rand-read", d->name);
        }
    }
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t off = next_random(&state) % blocks * RAND_BLOCK;
        uint64_t t0 = now_ns();
        if (do_io(d, write, d->buf, RAND_BLOCK, off) != (ssize_t)RAND_BLOCK) {
            free(lat);
            return fail("blk", write ? "rand-write" : "rand-read", d->name);
        }
        lat[i] = now_ns() - t0;
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    double sum = 0;
    for (uint64_t i = 0; i < ops; i++) sum += (double)lat[i];
    qsort(lat, ops, sizeof *lat, compare_u64);
    emit("blk-rand", "dev=%s op=%s bs=%llu ops=%" PRIu64 " seconds=%.6f iops=%.0f avg_us=%.1f p50_us=%.1f "
         "p90_us=%.1f p99_us=%.1f max_us=%.1f",
         d->name, op, RAND_BLOCK, ops, seconds, (double)ops / seconds, sum / (double)ops / 1e3,
         percentile(lat, ops, 50) / 1e3, percentile(lat, ops, 90) / 1e3, percentile(lat, ops, 99) / 1e3,
         lat[ops - 1] / 1e3);
    free(lat);
    return 0;
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t *state) {
    for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
        uint64_t v = next_random(state);
        memcpy(buf + i, &v, sizeof v); /* little-endian words, as the host reads them */
    }
}

/* Writes a seeded pattern over [0, bytes), flushes, reads it back and compares. */
static int blk_integrity(const struct disk *d, uint64_t bytes, uint64_t seed) {
    unsigned char *expected = NULL;
    if (posix_memalign((void **)&expected, RAND_BLOCK, SEQ_BLOCK) != 0) return fail("blk", "alloc", d->name);
    uint64_t state = seed;
    uint32_t written_crc = 0, read_crc = 0;
    for (uint64_t off = 0; off < bytes; off += SEQ_BLOCK) {
        fill_pattern(d->buf, SEQ_BLOCK, &state);
        written_crc = crc32_update(written_crc, d->buf, SEQ_BLOCK);
        if (pwrite(d->fd, d->buf, SEQ_BLOCK, (off_t)off) != (ssize_t)SEQ_BLOCK) {
            free(expected);
            return fail("blk", "integrity-write", d->name);
        }
    }
    if (fdatasync(d->fd) != 0) {
        free(expected);
        return fail("blk", "integrity-flush", d->name);
    }
    state = seed;
    uint64_t mismatched = 0;
    for (uint64_t off = 0; off < bytes; off += SEQ_BLOCK) {
        fill_pattern(expected, SEQ_BLOCK, &state);
        if (pread(d->fd, d->buf, SEQ_BLOCK, (off_t)off) != (ssize_t)SEQ_BLOCK) {
            free(expected);
            return fail("blk", "integrity-read", d->name);
        }
        read_crc = crc32_update(read_crc, d->buf, SEQ_BLOCK);
        for (size_t i = 0; i < SEQ_BLOCK; i += RAND_BLOCK) {
            if (memcmp(d->buf + i, expected + i, RAND_BLOCK) != 0) mismatched++;
        }
    }
    free(expected);
    emit("blk-integrity", "dev=%s offset=0 bytes=%" PRIu64 " seed=0x%" PRIx64 " crc32=0x%08x read_crc32=0x%08x "
         "mismatched_blocks=%" PRIu64 " verified=%s",
         d->name, bytes, seed, written_crc, read_crc, mismatched, mismatched == 0 ? "yes" : "no");
    return mismatched == 0 ? 0 : 1;
}

static int cmd_blk(const char *dev, uint64_t seq_mib, uint64_t rand_ops, uint64_t integrity_mib, uint64_t seed) {
    struct disk d = {.name = basename((char *)dev)};
    d.fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (d.fd < 0) return fail("blk", "open", dev);
    uint64_t size = 0;
    int logical = 0;
    if (ioctl(d.fd, BLKGETSIZE64, &size) != 0 || ioctl(d.fd, BLKSSZGET, &logical) != 0)
        return fail("blk", "ioctl", dev);
    char sys[PATH_MAX], serial[128] = "-", transport[64];
    snprintf(sys, sizeof sys, "/sys/block/%s", d.name);
    read_text(sys, "serial", serial, sizeof serial);
    if (!*serial) snprintf(serial, sizeof serial, "-");
    snprintf(sys, sizeof sys, "/sys/block/%s/device", d.name);
    pci_ancestor(sys, transport, sizeof transport);
    emit("blk-dev", "dev=%s bytes=%" PRIu64 " logical_block=%d serial=%s transport=%s", d.name, size, logical,
         serial, transport);

    d.span = (size < SPAN_LIMIT ? size : SPAN_LIMIT) / SEQ_BLOCK * SEQ_BLOCK;
    if (d.span < SEQ_BLOCK * SEQ_WARMUP_OPS || integrity_mib * MIB > size) {
        errno = ENOSPC;
        return fail("blk", "size", dev);
    }
    if (posix_memalign((void **)&d.buf, RAND_BLOCK, SEQ_BLOCK) != 0) return fail("blk", "alloc", dev);
    uint64_t state = seed ^ 0x5345;
    fill_pattern(d.buf, SEQ_BLOCK, &state);

    /* Integrity last: its pattern is what stays on the disk for the host to check. */
    int rc = blk_seq(&d, 1, seq_mib * MIB) || blk_seq(&d, 0, seq_mib * MIB)
          || blk_rand(&d, 1, rand_ops, seed) || blk_rand(&d, 0, rand_ops, seed)
          || blk_integrity(&d, integrity_mib * MIB, seed);
    free(d.buf);
    close(d.fd);
    return rc;
}

/* ---------- net ---------- */

static int cmd_net_link(const char *ifname) {
    char dir[DIR_MAX], mac[64] = "-", oper[32] = "-", transport[64];
    snprintf(dir, sizeof dir, "/sys/class/net/%s", ifname);
    if (access(dir, F_OK) != 0) return fail("net", "link", ifname);
    read_text(dir, "address", mac, sizeof mac);
    read_text(dir, "operstate", oper, sizeof oper);
    snprintf(dir, sizeof dir, "/sys/class/net/%s/device", ifname);
    pci_ancestor(dir, transport, sizeof transport);
    snprintf(dir, sizeof dir, "/sys/class/net/%s", ifname);
    emit("net-link", "dev=%s mac=%s operstate=%s carrier=%llu mtu=%llu transport=%s", ifname, mac, oper,
         read_number(dir, "carrier", 0), read_number(dir, "mtu", 0), transport);
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, unsigned char *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/*
 * One TCP stream: the sender writes an 8-byte length then the bytes; the receiver answers one byte
 * once it has everything, so the sender does not power off while data is still in flight.
 */
static int cmd_net_recv(int port, int timeout_s) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 1) != 0)
        return fail("net", "listen", "-");
    struct pollfd pfd = {.fd = s, .events = POLLIN};
    if (poll(&pfd, 1, timeout_s * 1000) != 1) {
        errno = ETIMEDOUT;
        return fail("net", "accept", "-");
    }
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &peer_len);
    if (c < 0) return fail("net", "accept", "-");
    uint64_t expected;
    if (read_all(c, (unsigned char *)&expected, sizeof expected) != 0) return fail("net", "recv", "-");
    unsigned char *buf = malloc(NET_CHUNK);
    uint64_t got = 0, start = now_ns();
    while (got < expected) {
        ssize_t r = read(c, buf, NET_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fail("net", "recv", "-");
        got += (uint64_t)r;
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    unsigned char ack = 1;
    write_all(c, &ack, 1);
    char who[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer.sin_addr, who, sizeof who);
    emit("net-tcp", "role=recv peer=%s bytes=%" PRIu64 " seconds=%.6f mbit_per_s=%.1f", who, got, seconds,
         (double)got * 8 / seconds / 1e6);
    free(buf);
    close(c);
    close(s);
    return 0;
}

static int cmd_net_send(const char *host, int port, uint64_t mib, int timeout_s) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        errno = EINVAL;
        return fail("net", "address", host);
    }
    int s = -1;
    uint64_t deadline = now_ns() + (uint64_t)timeout_s * 1000000000ULL;
    for (;;) { /* the receiver may still be booting */
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) break;
        close(s);
        if (now_ns() > deadline) return fail("net", "connect", host);
        usleep(NET_CONNECT_RETRY_MS * 1000);
    }
    uint64_t total = mib * MIB;
    unsigned char *buf = malloc(NET_CHUNK), ack;
    uint64_t state = 0x4e4554;
    fill_pattern(buf, NET_CHUNK, &state);
    uint64_t start = now_ns();
    if (write_all(s, (unsigned char *)&total, sizeof total) != 0) return fail("net", "send", host);
    for (uint64_t sent = 0; sent < total; sent += NET_CHUNK) {
        size_t n = total - sent < NET_CHUNK ? (size_t)(total - sent) : NET_CHUNK;
        if (write_all(s, buf, n) != 0) return fail("net", "send", host);
    }
    if (read_all(s, &ack, 1) != 0) return fail("net", "ack", host);
    double seconds = (double)(now_ns() - start) / 1e9;
    emit("net-tcp", "role=send peer=%s bytes=%" PRIu64 " seconds=%.6f mbit_per_s=%.1f", host, total, seconds,
         (double)total * 8 / seconds / 1e6);
    free(buf);
    close(s);
    return 0;
}

/* ---------- dma: umdev's sample DMA engine (io.umdev.emudev.sample.DmaEngine) ---------- */

#define DMA_VENDOR 0x1234
#define DMA_DEVICE 0x11e9
#define DMA_BAR0_SIZE 4096
#define DMA_BAR2_SIZE (1024 * 1024)
#define DMA_REG_MAGIC 0x00
#define DMA_REG_VERSION 0x04
#define DMA_REG_SRC 0x08
#define DMA_REG_DST 0x10
#define DMA_REG_LENGTH 0x18
#define DMA_REG_COMMAND 0x1c
#define DMA_REG_STATUS 0x20
#define DMA_REG_ERROR 0x24
#define DMA_REG_PATTERN 0x28
#define DMA_MAGIC 0x56444d55u
#define DMA_CMD_COPY 1
#define DMA_CMD_FILL 2
#define DMA_CMD_TO_SCRATCH 3
#define DMA_CMD_FROM_SCRATCH 4
#define DMA_STATUS_BUSY 1
#define DMA_STATUS_DONE 2
#define DMA_STATUS_ERROR 3
#define DMA_BUFFER 4096
#define DMA_TIMEOUT_NS (20ULL * 1000 * 1000 * 1000)
#define DMA_SCRATCH_IN 0x1000        /* where the guest puts data for FROM_SCRATCH */
#define DMA_SCRATCH_OUT 0x2000       /* where TO_SCRATCH lands */
#define DMA_UNMAPPED 0xfff00000000ULL /* a guest-physical address far above the guest's RAM */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_PFN_MASK ((1ULL << 55) - 1)

static int find_pci_function(unsigned vendor, unsigned device, char *dir, size_t cap) {
    struct dirent **entries;
    int n = sorted_entries("/sys/bus/pci/devices", &entries);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (!found && !is_dot(entries[i]->d_name)) {
            char d[DIR_MAX];
            snprintf(d, sizeof d, "/sys/bus/pci/devices/%s", entries[i]->d_name);
            if (read_number(d, "vendor", 0) == vendor && read_number(d, "device", 0) == device) {
                snprintf(dir, cap, "%s", d);
                found = 1;
            }
        }
        free(entries[i]);
    }
    free(entries);
    return found ? 0 : -1;
}

/* Read-modify-write of the command register through sysfs: the device sees the write. */
static int pci_command(const char *dir, uint16_t set, uint16_t clear) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config", dir);
    int fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    uint16_t command;
    int ok = pread(fd, &command, sizeof command, PCI_COMMAND) == sizeof command;
    command = (uint16_t)((command | set) & ~clear);
    ok = ok && pwrite(fd, &command, sizeof command, PCI_COMMAND) == sizeof command;
    close(fd);
    return ok ? 0 : -1;
}

static void *map_resource(const char *dir, int bar, size_t size) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/resource%d", dir, bar);
    int fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) return MAP_FAILED;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p;
}

/* The guest-physical address of a locked, present page (root may read PFNs from pagemap). */
static uint64_t guest_physical(const void *p) {
    uint64_t entry = 0;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return 0;
    off_t at = (off_t)((uintptr_t)p / (uintptr_t)page * sizeof entry);
    ssize_t n = pread(fd, &entry, sizeof entry, at);
    close(fd);
    if (n != sizeof entry || !(entry & PAGEMAP_PRESENT) || !(entry & PAGEMAP_PFN_MASK)) return 0;
    return (entry & PAGEMAP_PFN_MASK) * (uint64_t)page + (uintptr_t)p % (uintptr_t)page;
}

static void *locked_page(void) {
    void *p = NULL;
    if (posix_memalign(&p, DMA_BUFFER, DMA_BUFFER) != 0) return NULL;
    memset(p, 0, DMA_BUFFER);
    if (mlock(p, DMA_BUFFER) != 0) return NULL;
    return p;
}

static volatile uint32_t *reg32(volatile uint8_t *bar, unsigned off) { return (volatile uint32_t *)(bar + off); }
static volatile uint64_t *reg64(volatile uint8_t *bar, unsigned off) { return (volatile uint64_t *)(bar + off); }

/* Programs one command and waits for the engine to finish it; returns the final status. */
static uint32_t dma_command(volatile uint8_t *bar, uint32_t cmd, uint64_t src, uint64_t dst, uint32_t len,
                            uint64_t pattern, uint32_t *error) {
    *reg64(bar, DMA_REG_SRC) = src;
    *reg64(bar, DMA_REG_DST) = dst;
    *reg32(bar, DMA_REG_LENGTH) = len;
    *reg64(bar, DMA_REG_PATTERN) = pattern;
    __sync_synchronize();
    *reg32(bar, DMA_REG_COMMAND) = cmd;
    uint64_t deadline = now_ns() + DMA_TIMEOUT_NS;
    uint32_t status;
    while ((status = *reg32(bar, DMA_REG_STATUS)) == DMA_STATUS_BUSY && now_ns() < deadline) {
        usleep(1000);
    }
    *error = *reg32(bar, DMA_REG_ERROR);
    return status;
}

static void dma_line(const char *op, uint64_t src, uint64_t dst, uint32_t len, uint32_t status, uint32_t error,
                     const unsigned char *data, int verified) {
    emit("dma", "op=%s src=0x%" PRIx64 " dst=0x%" PRIx64 " bytes=%u status=%s error=%u crc32=0x%08x verified=%s",
         op, src, dst, len, status == DMA_STATUS_DONE ? "done" : status == DMA_STATUS_ERROR ? "error" : "stuck",
         error, data ? crc32_update(0, data, len) : 0u, verified ? "yes" : "no");
}

static int cmd_dma(uint64_t seed, int hold_s) {
    char dir[DIR_MAX];
    if (find_pci_function(DMA_VENDOR, DMA_DEVICE, dir, sizeof dir) != 0) {
        errno = ENODEV;
        return fail("dma", "find", "1234:11e9");
    }
    char enable[PATH_MAX];
    snprintf(enable, sizeof enable, "%s/enable", dir);
    int fd = open(enable, O_WRONLY);
    if (fd < 0 || write(fd, "1", 1) != 1) return fail("dma", "enable", dir);
    close(fd);
    if (pci_command(dir, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0) != 0) return fail("dma", "master", dir);
    volatile uint8_t *bar0 = map_resource(dir, 0, DMA_BAR0_SIZE);
    volatile uint8_t *bar2 = map_resource(dir, 2, DMA_BAR2_SIZE);
    if (bar0 == MAP_FAILED || bar2 == MAP_FAILED) return fail("dma", "mmap", dir);
    if (*reg32(bar0, DMA_REG_MAGIC) != DMA_MAGIC) {
        errno = ENODEV;
        return fail("dma", "magic", dir);
    }
    unsigned char *src = locked_page(), *dst = locked_page();
    uint64_t src_pa = src ? guest_physical(src) : 0, dst_pa = dst ? guest_physical(dst) : 0;
    if (!src_pa || !dst_pa) return fail("dma", "pagemap", "buffers");
    emit("dma-device", "slot=%s magic=0x%08x version=%u", basename(dir), *reg32(bar0, DMA_REG_MAGIC),
         *reg32(bar0, DMA_REG_VERSION));

    uint32_t status, error;
    int failures = 0;
    uint64_t state = seed;

    /* Guest memory to guest memory. */
    fill_pattern(src, DMA_BUFFER, &state);
    memset(dst, 0, DMA_BUFFER);
    status = dma_command(bar0, DMA_CMD_COPY, src_pa, dst_pa, DMA_BUFFER, 0, &error);
    int ok = status == DMA_STATUS_DONE && !memcmp(src, dst, DMA_BUFFER);
    dma_line("copy", src_pa, dst_pa, DMA_BUFFER, status, error, dst, ok);
    failures += !ok;

    /* A pattern written over guest memory. */
    status = dma_command(bar0, DMA_CMD_FILL, 0, dst_pa, DMA_BUFFER, seed, &error);
    ok = status == DMA_STATUS_DONE;
    for (size_t i = 0; ok && i < DMA_BUFFER; i += sizeof(uint64_t)) ok = *(uint64_t *)(dst + i) == seed;
    dma_line("fill", 0, dst_pa, DMA_BUFFER, status, error, dst, ok);
    failures += !ok;

    /* Device memory the guest wrote through its mapping of BAR2, moved into guest memory. */
    unsigned char pattern[DMA_BUFFER];
    fill_pattern(pattern, DMA_BUFFER, &state);
    memcpy((void *)(bar2 + DMA_SCRATCH_IN), pattern, DMA_BUFFER);
    status = dma_command(bar0, DMA_CMD_FROM_SCRATCH, DMA_SCRATCH_IN, dst_pa, DMA_BUFFER, 0, &error);
    ok = status == DMA_STATUS_DONE && !memcmp(dst, pattern, DMA_BUFFER);
    dma_line("from-scratch", DMA_SCRATCH_IN, dst_pa, DMA_BUFFER, status, error, dst, ok);
    failures += !ok;

    /* Guest memory into device memory, read back through the mapping. */
    status = dma_command(bar0, DMA_CMD_TO_SCRATCH, src_pa, DMA_SCRATCH_OUT, DMA_BUFFER, 0, &error);
    memcpy(pattern, (const void *)(bar2 + DMA_SCRATCH_OUT), DMA_BUFFER);
    ok = status == DMA_STATUS_DONE && !memcmp(pattern, src, DMA_BUFFER);
    dma_line("to-scratch", src_pa, DMA_SCRATCH_OUT, DMA_BUFFER, status, error, pattern, ok);
    failures += !ok;

    /* Memory the guest does not have: the engine reports the fault, nothing else happens. */
    status = dma_command(bar0, DMA_CMD_COPY, DMA_UNMAPPED, dst_pa, DMA_BUFFER, 0, &error);
    ok = status == DMA_STATUS_ERROR && error == EFAULT;
    dma_line("fault", DMA_UNMAPPED, dst_pa, DMA_BUFFER, status, error, NULL, ok);
    failures += !ok;

    /* Without bus mastering the engine must not touch memory. */
    pci_command(dir, 0, PCI_COMMAND_MASTER);
    status = dma_command(bar0, DMA_CMD_COPY, src_pa, dst_pa, DMA_BUFFER, 0, &error);
    ok = status == DMA_STATUS_ERROR && error == EPERM;
    dma_line("no-master", src_pa, dst_pa, DMA_BUFFER, status, error, NULL, ok);
    failures += !ok;
    pci_command(dir, PCI_COMMAND_MASTER, 0);

    /* Last: a fresh pattern the host checks in guest memory while the guest holds. */
    fill_pattern(src, DMA_BUFFER, &state);
    status = dma_command(bar0, DMA_CMD_COPY, src_pa, dst_pa, DMA_BUFFER, 0, &error);
    ok = status == DMA_STATUS_DONE && !memcmp(src, dst, DMA_BUFFER);
    dma_line("copy-final", src_pa, dst_pa, DMA_BUFFER, status, error, dst, ok);
    failures += !ok;

    if (hold_s > 0) sleep((unsigned)hold_s);
    return failures ? 1 : 0;
}


/* net-ctrl */
#define NET_RX_MODE_SETTLE_US 200000 /* virtio_net pushes a receive-mode change from a work item */
/* blk-acked and boot: little-endian magics "UMDEVACK" and "UMDEVBOT" */
#define ACK_MAGIC 0x4b43415645444d55ULL
#define BOOT_MAGIC 0x544f425645444d55ULL
#define ACK_HEADER 16                /* magic, sequence number */
#define ACK_SEQ_MIX 0x9E3779B97F4A7C15ULL /* spreads sequence numbers over the pattern seed */
/* virtio-loop: the virtio-pci modern layout (virtio 1.2, 4.1.4) */
#define PCI_VENDOR_VIRTIO 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040
#define PCI_CAP_ID_VNDR 0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_CAP_CFG_TYPE 3
#define VIRTIO_CAP_BAR 4
#define VIRTIO_CAP_OFFSET 8
#define VIRTIO_CAP_LEN 16
#define VIRTIO_NOTIFY_CAP_MULT 16
#define VIRTIO_NOTIFY_CAP_LEN 20
#define VIRTIO_COMMON_DFSELECT 0x00
#define VIRTIO_COMMON_DF 0x04
#define VIRTIO_COMMON_GFSELECT 0x08
#define VIRTIO_COMMON_GF 0x0c
#define VIRTIO_COMMON_STATUS 0x14
#define VIRTIO_COMMON_Q_SELECT 0x16
#define VIRTIO_COMMON_Q_SIZE 0x18
#define VIRTIO_COMMON_Q_MSIX 0x1a
#define VIRTIO_COMMON_Q_ENABLE 0x1c
#define VIRTIO_COMMON_Q_NOFF 0x1e
#define VIRTIO_COMMON_Q_DESC 0x20
#define VIRTIO_COMMON_Q_AVAIL 0x28
#define VIRTIO_COMMON_Q_USED 0x30
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_F_VERSION_1_HIGH 0x1u        /* feature bit 32 in the high word */
#define VIRTIO_F_ACCESS_PLATFORM_HIGH 0x2u  /* feature bit 33 */
#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VRING_DESC_F_NEXT 1
#define VIRTIO_RESET_POLLS 1000      /* 1 ms apart */
#define LOOP_QUEUE_SIZE 8
#define LOOP_DESC_AT 0
#define LOOP_AVAIL_AT 256
#define LOOP_USED_AT 512
#define LOOP_DATA_AT 1024
#define LOOP_DATA_LEN 16

/* ---------- net: queues and control-queue commands ---------- */

/* Counts sysfs entries starting with prefix: the queues the driver made real (rx-0, rx-1, ...). */
static int count_prefixed(const char *dir, const char *prefix) {
    struct dirent **entries;
    int n = sorted_entries(dir, &entries), count = 0;
    for (int i = 0; i < n; i++) {
        if (!strncmp(entries[i]->d_name, prefix, strlen(prefix))) count++;
        free(entries[i]);
    }
    if (n >= 0) free(entries);
    return count;
}

/* virtio_net sets the real queue counts to the pairs it enabled with VQ_PAIRS_SET on the control queue. */
static int cmd_net_queues(const char *ifname) {
    char dir[DIR_MAX];
    snprintf(dir, sizeof dir, "/sys/class/net/%s/queues", ifname);
    if (access(dir, F_OK) != 0) return fail("net", "queues", ifname);
    emit("net-queues", "dev=%s rx=%d tx=%d", ifname, count_prefixed(dir, "rx-"), count_prefixed(dir, "tx-"));
    return 0;
}

static int if_flags(int s, const char *ifname, short set, short clear) {
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags = (short)((ifr.ifr_flags | set) & ~clear);
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static void format_mac(const unsigned char *m, char *out, size_t cap) {
    snprintf(out, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/*
 * Makes virtio_net send control-queue commands, each an ordinary network operation: a live MAC change
 * (MAC ADDR_SET), promiscuous on and off and all-multicast on and off (RX PROMISC/ALLMULTI), joining an IPv4
 * multicast group (MAC TABLE_SET). The interface must be up (the receive mode is only pushed then).
 * The membership is dropped when the socket closes: one more TABLE_SET.
 */
static int cmd_net_ctrl(const char *ifname, const char *new_mac, const char *group) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail("net-ctrl", "socket", ifname);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    char before[32], after[32];
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0) { close(s); return fail("net-ctrl", "get-mac", ifname); }
    format_mac((unsigned char *)ifr.ifr_hwaddr.sa_data, before, sizeof before);
    unsigned m[6];
    if (sscanf(new_mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
        close(s);
        errno = EINVAL;
        return fail("net-ctrl", "parse-mac", new_mac);
    }
    for (int i = 0; i < 6; i++) ifr.ifr_hwaddr.sa_data[i] = (char)m[i];
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    if (ioctl(s, SIOCSIFHWADDR, &ifr) != 0) { close(s); return fail("net-ctrl", "set-mac", ifname); }
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0) { close(s); return fail("net-ctrl", "get-mac", ifname); }
    format_mac((unsigned char *)ifr.ifr_hwaddr.sa_data, after, sizeof after);
    if (if_flags(s, ifname, IFF_PROMISC, 0) != 0) { close(s); return fail("net-ctrl", "promisc-on", ifname); }
    usleep(NET_RX_MODE_SETTLE_US); /* the driver pushes the receive mode from a work item */
    if (if_flags(s, ifname, 0, IFF_PROMISC) != 0) { close(s); return fail("net-ctrl", "promisc-off", ifname); }
    usleep(NET_RX_MODE_SETTLE_US);
    if (if_flags(s, ifname, IFF_ALLMULTI, 0) != 0) { close(s); return fail("net-ctrl", "allmulti-on", ifname); }
    usleep(NET_RX_MODE_SETTLE_US);
    if (if_flags(s, ifname, 0, IFF_ALLMULTI) != 0) { close(s); return fail("net-ctrl", "allmulti-off", ifname); }
    usleep(NET_RX_MODE_SETTLE_US);
    struct ip_mreqn mreq = {0};
    mreq.imr_ifindex = (int)if_nametoindex(ifname);
    if (inet_pton(AF_INET, group, &mreq.imr_multiaddr) != 1) { close(s); errno = EINVAL; return fail("net-ctrl", "group", group); }
    if (setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
        close(s);
        return fail("net-ctrl", "join", group);
    }
    usleep(NET_RX_MODE_SETTLE_US);
    char maddrs[LIST_MAX] = "";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/proc/net/dev_mcast");
    FILE *f = fopen(path, "r");
    if (f) { /* "index name refcount global address" per line */
        char line[256], name[64], addr[64];
        int idx, ref, global;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%d %63s %d %d %63s", &idx, name, &ref, &global, addr) == 5 && !strcmp(name, ifname))
                list_add(maddrs, sizeof maddrs, "%s", addr);
        }
        fclose(f);
    }
    close(s);
    emit("net-ctrl", "dev=%s mac_before=%s mac_after=%s promisc=on,off allmulti=on,off group=%s mcast_macs=%s",
         ifname, before, after, group, or_none(maddrs));
    return strcasecmp(after, new_mac) == 0 ? 0 : 1;
}

/* ---------- blk: acknowledged writes, boot marker ---------- */

/* One numbered 4 KiB block: magic, sequence number, then a pattern from the seed and the number. */
static void acked_block(unsigned char *buf, uint64_t seed, uint64_t seq) {
    uint64_t state = seed ^ (seq * ACK_SEQ_MIX), magic = ACK_MAGIC;
    memcpy(buf, &magic, sizeof magic);
    memcpy(buf + sizeof magic, &seq, sizeof seq);
    fill_pattern(buf + ACK_HEADER, RAND_BLOCK - ACK_HEADER, &state);
}

/*
 * Writes numbered blocks at consecutive 4 KiB offsets with O_DIRECT|O_DSYNC and prints one "blk-ack" line
 * after each write returned: every printed block was acknowledged by the device, flush included. Stops
 * after COUNT blocks (0: at the end of the benchmark span); meant to be killed half way.
 */
static int cmd_blk_acked(const char *dev, uint64_t seed, uint64_t count) {
    const char *name = basename((char *)dev);
    int fd = open(dev, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
    if (fd < 0) return fail("blk", "open", dev);
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) { close(fd); return fail("blk", "ioctl", dev); }
    uint64_t blocks = (size < SPAN_LIMIT ? size : SPAN_LIMIT) / RAND_BLOCK;
    if (count == 0 || count > blocks) count = blocks;
    unsigned char *buf = NULL;
    if (posix_memalign((void **)&buf, RAND_BLOCK, RAND_BLOCK) != 0) { close(fd); return fail("blk", "alloc", dev); }
    for (uint64_t seq = 0; seq < count; seq++) {
        acked_block(buf, seed, seq);
        if (pwrite(fd, buf, RAND_BLOCK, (off_t)(seq * RAND_BLOCK)) != (ssize_t)RAND_BLOCK) {
            free(buf);
            close(fd);
            return fail("blk", "acked-write", dev);
        }
        emit("blk-ack", "dev=%s seq=%" PRIu64 " offset=%" PRIu64, name, seq, seq * RAND_BLOCK);
    }
    free(buf);
    close(fd);
    return 0;
}

/*
 * Counts boots in the disk's last 4 KiB block (outside the span the blk workload writes): prints
 * "boot count=N", N = 1 on a disk without the marker, and stores N durably.
 */
static int cmd_boot(const char *dev) {
    int fd = open(dev, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
    if (fd < 0) return fail("boot", "open", dev);
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) { close(fd); return fail("boot", "ioctl", dev); }
    if (size < SPAN_LIMIT + RAND_BLOCK) { close(fd); errno = ENOSPC; return fail("boot", "size", dev); }
    unsigned char *buf = NULL;
    if (posix_memalign((void **)&buf, RAND_BLOCK, RAND_BLOCK) != 0) { close(fd); return fail("boot", "alloc", dev); }
    off_t at = (off_t)(size / RAND_BLOCK * RAND_BLOCK - RAND_BLOCK);
    uint64_t magic = 0, count = 0;
    if (pread(fd, buf, RAND_BLOCK, at) != (ssize_t)RAND_BLOCK) { free(buf); close(fd); return fail("boot", "read", dev); }
    memcpy(&magic, buf, sizeof magic);
    if (magic == BOOT_MAGIC) memcpy(&count, buf + sizeof magic, sizeof count);
    count++;
    memset(buf, 0, RAND_BLOCK);
    magic = BOOT_MAGIC;
    memcpy(buf, &magic, sizeof magic);
    memcpy(buf + sizeof magic, &count, sizeof count);
    int ok = pwrite(fd, buf, RAND_BLOCK, at) == (ssize_t)RAND_BLOCK;
    free(buf);
    close(fd);
    if (!ok) return fail("boot", "write", dev);
    emit("boot", "dev=%s count=%" PRIu64 " offset=%lld", basename((char *)dev), count, (long long)at);
    return 0;
}

/* ---------- a malformed virtio driver ---------- */

/*
 * Takes a modern virtio-pci function away from its driver and drives it by hand the way no correct driver
 * would: one queue whose only available chain is a descriptor loop (0 -> 1 -> 0). A correct device marks
 * itself NEEDS_RESET and completes nothing; the guest watches the status register, resets the device and
 * gives it back to virtio-pci, whose driver must then find it working.
 */
static int find_virtio_cap(const unsigned char *cfg, size_t len, int type, unsigned *bar, uint32_t *off,
                           uint32_t *multiplier) {
    unsigned pos = cfg[PCI_CAP_PTR] & ~3u;
    for (int guard = 0; pos >= PCI_CAP_PTR + 1 && pos + VIRTIO_CAP_LEN <= len && guard < PCI_CAP_WALK_LIMIT; guard++) {
        if (cfg[pos] == PCI_CAP_ID_VNDR && cfg[pos + VIRTIO_CAP_CFG_TYPE] == type) {
            *bar = cfg[pos + VIRTIO_CAP_BAR];
            memcpy(off, cfg + pos + VIRTIO_CAP_OFFSET, sizeof *off);
            if (multiplier && pos + VIRTIO_NOTIFY_CAP_LEN <= len)
                memcpy(multiplier, cfg + pos + VIRTIO_NOTIFY_CAP_MULT, sizeof *multiplier);
            return 0;
        }
        pos = cfg[pos + 1] & ~3u;
    }
    return -1;
}

static int sysfs_write(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static uint64_t bar_size(const char *dir, unsigned bar) {
    char path[PATH_MAX], line[128];
    snprintf(path, sizeof path, "%s/resource", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long start = 0, end = 0, flags = 0;
    for (unsigned i = 0; i <= bar && fgets(line, sizeof line, f); i++) sscanf(line, "%llx %llx %llx", &start, &end, &flags);
    fclose(f);
    return end > start ? end - start + 1 : 0;
}

static int cmd_virtio_loop(unsigned virtio_id, int wait_s) {
    char dir[DIR_MAX], slot[64];
    if (find_pci_function(PCI_VENDOR_VIRTIO, VIRTIO_PCI_MODERN_BASE + virtio_id, dir, sizeof dir) != 0) {
        errno = ENODEV;
        return fail("virtio-loop", "find", "-");
    }
    snprintf(slot, sizeof slot, "%s", basename(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/driver/unbind", dir);
    if (access(path, F_OK) == 0 && sysfs_write(path, slot) != 0) return fail("virtio-loop", "unbind", slot);
    unsigned char cfg[PCI_CONFIG_MAX];
    snprintf(path, sizeof path, "%s/config", dir);
    int cfd = open(path, O_RDONLY | O_CLOEXEC);
    if (cfd < 0) return fail("virtio-loop", "config", slot);
    ssize_t clen = pread(cfd, cfg, sizeof cfg, 0);
    close(cfd);
    if (clen < PCI_STD_HEADER) return fail("virtio-loop", "config", slot);
    unsigned common_bar, notify_bar;
    uint32_t common_off, notify_off, multiplier = 0;
    if (find_virtio_cap(cfg, (size_t)clen, VIRTIO_PCI_CAP_COMMON_CFG, &common_bar, &common_off, NULL) != 0
        || find_virtio_cap(cfg, (size_t)clen, VIRTIO_PCI_CAP_NOTIFY_CFG, &notify_bar, &notify_off, &multiplier) != 0) {
        errno = ENOENT;
        return fail("virtio-loop", "caps", slot);
    }
    if (pci_command(dir, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0) != 0) return fail("virtio-loop", "enable", slot);
    uint64_t csize = bar_size(dir, common_bar), nsize = bar_size(dir, notify_bar);
    volatile uint8_t *cbar = map_resource(dir, (int)common_bar, csize);
    volatile uint8_t *nbar = notify_bar == common_bar ? cbar : map_resource(dir, (int)notify_bar, nsize);
    if (cbar == MAP_FAILED || nbar == MAP_FAILED) return fail("virtio-loop", "map", slot);
    volatile uint8_t *common = cbar + common_off;
    volatile uint8_t *status = common + VIRTIO_COMMON_STATUS;

    *status = 0;
    for (int i = 0; i < VIRTIO_RESET_POLLS && *status != 0; i++) usleep(1000);
    *status = VIRTIO_STATUS_ACKNOWLEDGE;
    *status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    *reg32(common, VIRTIO_COMMON_DFSELECT) = 1;
    uint32_t offered_high = *reg32(common, VIRTIO_COMMON_DF);
    uint32_t wanted_high = offered_high & (VIRTIO_F_VERSION_1_HIGH | VIRTIO_F_ACCESS_PLATFORM_HIGH);
    *reg32(common, VIRTIO_COMMON_GFSELECT) = 0;
    *reg32(common, VIRTIO_COMMON_GF) = 0;
    *reg32(common, VIRTIO_COMMON_GFSELECT) = 1;
    *reg32(common, VIRTIO_COMMON_GF) = wanted_high;
    *status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    if (!(*status & VIRTIO_STATUS_FEATURES_OK)) { errno = EPROTO; return fail("virtio-loop", "features", slot); }

    uint8_t *ring = locked_page();
    uint64_t ring_pa = ring ? guest_physical(ring) : 0;
    if (!ring_pa) { errno = EFAULT; return fail("virtio-loop", "ring", slot); }
    *(volatile uint16_t *)(common + VIRTIO_COMMON_Q_SELECT) = 0;
    *(volatile uint16_t *)(common + VIRTIO_COMMON_Q_SIZE) = LOOP_QUEUE_SIZE;
    *(volatile uint16_t *)(common + VIRTIO_COMMON_Q_MSIX) = VIRTIO_MSI_NO_VECTOR;
    *reg64(common, VIRTIO_COMMON_Q_DESC) = ring_pa + LOOP_DESC_AT;
    *reg64(common, VIRTIO_COMMON_Q_AVAIL) = ring_pa + LOOP_AVAIL_AT;
    *reg64(common, VIRTIO_COMMON_Q_USED) = ring_pa + LOOP_USED_AT;
    uint16_t notify_index = *(volatile uint16_t *)(common + VIRTIO_COMMON_Q_NOFF);
    *(volatile uint16_t *)(common + VIRTIO_COMMON_Q_ENABLE) = 1;
    *status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

    /* desc 0 -> desc 1 -> desc 0: a chain without an end. */
    struct vring_desc { uint64_t addr; uint32_t len; uint16_t flags, next; } *desc = (void *)(ring + LOOP_DESC_AT);
    for (int i = 0; i < 2; i++) {
        desc[i].addr = ring_pa + LOOP_DATA_AT + (uint64_t)i * LOOP_DATA_LEN;
        desc[i].len = LOOP_DATA_LEN;
        desc[i].flags = VRING_DESC_F_NEXT;
        desc[i].next = (uint16_t)(1 - i);
    }
    volatile uint16_t *avail = (volatile uint16_t *)(ring + LOOP_AVAIL_AT); /* flags, idx, ring[] */
    avail[2] = 0;
    __sync_synchronize();
    avail[1] = 1;
    __sync_synchronize();
    *(volatile uint16_t *)(nbar + notify_off + (uint64_t)notify_index * multiplier) = 0;

    uint8_t seen = *status;
    uint64_t deadline = now_ns() + (uint64_t)wait_s * 1000000000ULL;
    while (!(seen & VIRTIO_STATUS_NEEDS_RESET) && now_ns() < deadline) {
        usleep(10000);
        seen = *status;
    }
    volatile uint16_t *used = (volatile uint16_t *)(ring + LOOP_USED_AT);
    uint16_t used_idx = used[1];
    *status = 0; /* reset: the device must forget the broken queue */
    uint8_t after_reset = 0xff;
    for (int i = 0; i < VIRTIO_RESET_POLLS && (after_reset = *status) != 0; i++) usleep(1000);
    if (sysfs_write("/sys/bus/pci/drivers/virtio-pci/bind", slot) != 0) return fail("virtio-loop", "bind", slot);
    emit("virtio-loop", "slot=%s device_id=0x%04x status=0x%02x needs_reset=%s used_idx=%u status_after_reset=0x%02x "
         "rebound=yes", slot, VIRTIO_PCI_MODERN_BASE + virtio_id, seen,
         (seen & VIRTIO_STATUS_NEEDS_RESET) ? "yes" : "no", used_idx, after_reset);
    return (seen & VIRTIO_STATUS_NEEDS_RESET) && used_idx == 0 && after_reset == 0 ? 0 : 1;
}

/* ---------- main ---------- */

static uint64_t number(const char *text) { return strtoull(text, NULL, 0); }

int main(int argc, char **argv) {
    crc32_init();
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "pci") && argc == 2) return cmd_pci();
    if (!strcmp(cmd, "virtio") && argc == 2) return cmd_virtio();
    if (!strcmp(cmd, "blk") && argc == 7)
        return cmd_blk(argv[2], number(argv[3]), number(argv[4]), number(argv[5]), number(argv[6]));
    if (!strcmp(cmd, "net-link") && argc == 3) return cmd_net_link(argv[2]);
    if (!strcmp(cmd, "net-recv") && argc == 4) return cmd_net_recv((int)number(argv[2]), (int)number(argv[3]));
    if (!strcmp(cmd, "net-send") && argc == 6)
        return cmd_net_send(argv[2], (int)number(argv[3]), number(argv[4]), (int)number(argv[5]));
    if (!strcmp(cmd, "net-queues") && argc == 3) return cmd_net_queues(argv[2]);
    if (!strcmp(cmd, "net-ctrl") && argc == 5) return cmd_net_ctrl(argv[2], argv[3], argv[4]);
    if (!strcmp(cmd, "blk-acked") && argc == 5) return cmd_blk_acked(argv[2], number(argv[3]), number(argv[4]));
    if (!strcmp(cmd, "boot") && argc == 3) return cmd_boot(argv[2]);
    if (!strcmp(cmd, "virtio-loop") && argc == 4) return cmd_virtio_loop((unsigned)number(argv[2]), (int)number(argv[3]));
    if (!strcmp(cmd, "dma") && argc == 4) return cmd_dma(number(argv[2]), (int)number(argv[3]));
    errno = EINVAL;
    return fail("probe", "usage", cmd);
}
