/*
 * The microvm agent's launcher: enters the container's root and becomes its process.
 *
 *   launch ROOT WD UID GID GROUPS CAPS FLAGS -- PATH ARGV0 ARGS...
 *
 * A cgroup namespace of its own (rooted at the workload's cgroup, where the agent put it, as
 * containerd does on cgroup v2), chroot(ROOT), chdir(WD), then the bounding set cut down to CAPS (a hex mask of capability
 * bits), the supplementary GROUPS (comma-separated gids, or "-" for none), the gid and the uid,
 * the ambient set, no_new_privs when FLAGS holds "n", and exec PATH with ARGV0 ARGS. A root
 * workload then holds exactly CAPS (the kernel gives root its bounding set on exec); any other
 * uid holds none, as under containerd, but its ambient ones. CAPS may end in ":AMBIENT", a mask
 * of the ambient set (within CAPS): those are made inheritable and raised ambient after the uid
 * changes (the permitted set kept through it for that), so that they survive the exec for any
 * uid; without it the inheritable and ambient sets stay empty. When file descriptor 9 is open (the
 * agent opens it for the workload, not for execs), the Uid, Gid and Groups lines of the
 * process's own /proc status, read once its identity is set, are written there and it is closed:
 * ContainerStatus.user is then what the kernel held, even for a workload that ends at once.
 * When file descriptor 8 is open (the agent opens the workload cgroup's cgroup.procs there), the
 * launcher joins that cgroup first: what the agent did before is not the container's CPU time.
 *
 *   launch --mkdir ROOT DIR
 *
 * creates the working directory DIR (and its parents, 0755, root's) inside ROOT, as runc does for
 * a working directory the image lacks: in the jail, so that a symbolic link in the image resolves
 * in the container's root, never in the agent's.
 *
 * Hand-written because nothing in the guest does it: busybox's setpriv (1.35) sets neither
 * groups nor the bounding set, and util-linux's setpriv is dynamically linked, so it cannot
 * run once the root is the container's, and before the chroot a non-root user could not
 * chroot any more. It is built static (guest.py) so that it needs nothing in the container.
 *
 * User namespace: when the agent made one for the container (/run/userns, guest/userns.c), the
 * launcher joins it after the cgroup and before everything else: the cgroup namespace is then
 * the user namespace's, UID, GID and GROUPS are ids inside it, and the bounding set, the
 * capabilities a root workload holds and seccomp's CAP_SYS_ADMIN are the namespace's, never the
 * guest's (as runc orders them).
 *
 * Seccomp: when the agent stored a filter (/run/seccomp.bpf, compiled on the host), it is read
 * before the chroot and installed last, just before the exec (seccomp_goes_early says when it
 * must come before the uid changes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h> /* the ambient set */
#include <linux/filter.h> /* seccomp */
#include <linux/seccomp.h>
#include <sys/syscall.h>

#define MAX_GROUPS 256
#define CREDENTIALS_FD 9
#define CGROUP_FD 8

static void die(const char *what, const char *detail);

/* -- seccomp: the program the host compiled (seccomp_filter.py), raw struct sock_filter
 * entries, and seccomp(2)'s flags in decimal; no file, no filter. */
#define SECCOMP_PROGRAM "/run/seccomp.bpf"
#define SECCOMP_FLAGS "/run/seccomp.flags"
#define SECCOMP_MAX_INSTRUCTIONS 4096 /* BPF_MAXINSNS */

static struct sock_filter seccomp_program[SECCOMP_MAX_INSTRUCTIONS + 1];
static struct sock_fprog seccomp_filter = {0, seccomp_program};
static unsigned long seccomp_flags;

static void load_seccomp(void) {
    int fd = open(SECCOMP_PROGRAM, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return;
        die("open", SECCOMP_PROGRAM);
    }
    size_t size = 0;
    ssize_t got;
    while (size < sizeof seccomp_program &&
           (got = read(fd, (char *)seccomp_program + size, sizeof seccomp_program - size)) > 0)
        size += (size_t)got;
    close(fd);
    if (size == 0 || size % sizeof(struct sock_filter) ||
        size > SECCOMP_MAX_INSTRUCTIONS * sizeof(struct sock_filter)) {
        errno = EINVAL;
        die("load", SECCOMP_PROGRAM);
    }
    seccomp_filter.len = (unsigned short)(size / sizeof(struct sock_filter));
    FILE *flags = fopen(SECCOMP_FLAGS, "r");
    if (!flags || fscanf(flags, "%lu", &seccomp_flags) != 1) die("read", SECCOMP_FLAGS);
    fclose(flags);
}

/* Installing a filter takes no_new_privs or CAP_SYS_ADMIN. A workload without no_new_privs
 * that runs as another uid than root loses CAP_SYS_ADMIN with its setuid, so its filter goes
 * in before its identity is set (runc does the same: with no_new_privs as late as possible,
 * without it before the capabilities go); every other one gets it last. */
static int seccomp_goes_early(const char *flags, uid_t uid) {
    return !strchr(flags, 'n') && uid != 0;
}

static void install_seccomp(void) {
    if (!seccomp_filter.len) return;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, seccomp_flags, &seccomp_filter) != 0)
        die("seccomp", SECCOMP_PROGRAM);
}

/* Raise AMBIENT (a mask) in the ambient set: each must be permitted (kept through the uid
 * change by PR_SET_KEEPCAPS) and inheritable, which capset makes it (it is in the bounding set). */
static void raise_ambient(unsigned long long ambient, const char *word) {
    if (!ambient) return;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) die("capget", word);
    data[0].inheritable |= (__u32)ambient;
    data[1].inheritable |= (__u32)(ambient >> 32);
    if (syscall(SYS_capset, &header, data) != 0) die("capset inheritable", word);
    for (int cap = 0; cap < 64; cap++) {
        if (!(ambient >> cap & 1)) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) die("raise ambient", word);
    }
}

static void report_credentials(void) {
    if (fcntl(CREDENTIALS_FD, F_GETFD) == -1) return;
    FILE *status = fopen("/proc/self/status", "r");
    char line[4096];
    while (status && fgets(line, sizeof line, status)) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7))
            if (write(CREDENTIALS_FD, line, strlen(line)) < 0) break;
    }
    if (status) fclose(status);
    close(CREDENTIALS_FD);
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "microvm launcher: %s %s: %s\n", what, detail, strerror(errno));
    exit(127);
}

/* The container's user namespace (guest/userns.c keeps it there), or -1: none asked. */
#define USER_NAMESPACE "/run/userns"

static int open_user_namespace(void) {
    int fd = open(USER_NAMESPACE, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) die("open", USER_NAMESPACE);
    return fd;
}

static void join_user_namespace(int fd) {
    if (fd < 0) return;
    if (setns(fd, CLONE_NEWUSER) != 0) die("join", "the container's user namespace");
    close(fd);
}

/* Join the cgroup whose cgroup.procs the agent opened as CGROUP_FD, if it did. */
static void join_cgroup(void) {
    if (fcntl(CGROUP_FD, F_GETFD) == -1) return;
    if (write(CGROUP_FD, "0\n", 2) != 2) die("join", "the workload's cgroup");
    close(CGROUP_FD);
}

/* mkdir -p DIR inside ROOT (after chroot): each missing component 0755, owned by root. */
static int make_working_dir(const char *root, const char *dir) {
    char path[4096];
    if (strlen(dir) >= sizeof path) {
        fprintf(stderr, "microvm launcher: working directory too long\n");
        return 127;
    }
    if (chroot(root) != 0) die("chroot", root);
    if (chdir("/") != 0) die("chdir", "/");
    strcpy(path, dir);
    for (char *slash = path + 1; ; slash++) {
        if (*slash != '/' && *slash != '\0') continue;
        char end = *slash;
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
        if (end == '\0') break;
        *slash = end;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--mkdir") == 0) return make_working_dir(argv[2], argv[3]);
    if (argc < 10 || strcmp(argv[8], "--") != 0) {
        fprintf(stderr, "usage: launch ROOT WD UID GID GROUPS CAPS FLAGS -- PATH ARGV0...\n");
        return 127;
    }
    load_seccomp(); /* before the chroot hides the guest's /run */
    int user_namespace = open_user_namespace();
    uid_t uid = (uid_t)strtoul(argv[3], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[4], NULL, 10);
    gid_t groups[MAX_GROUPS];
    size_t count = 0;
    if (strcmp(argv[5], "-") != 0) {
        for (char *word = strtok(argv[5], ","); word && count < MAX_GROUPS; word = strtok(NULL, ","))
            groups[count++] = (gid_t)strtoul(word, NULL, 10);
    }
    char *rest;
    unsigned long long keep = strtoull(argv[6], &rest, 16);
    unsigned long long ambient = *rest == ':' ? strtoull(rest + 1, NULL, 16) : 0;
    join_cgroup();
    join_user_namespace(user_namespace);
    if (unshare(CLONE_NEWCGROUP) != 0) die("unshare", "cgroup namespace");
    if (chroot(argv[1]) != 0) die("chroot", argv[1]);
    if (chdir(argv[2]) != 0) die("chdir", argv[2]);
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
        if (cap < 64 && (keep >> cap & 1)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) die("drop capability", argv[6]);
    }
    int early = seccomp_goes_early(argv[7], uid);
    if (early) install_seccomp();
    if (setgroups(count, groups) != 0) die("setgroups", argv[5]);
    if (setresgid(gid, gid, gid) != 0) die("setgid", argv[4]);
    if (ambient && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die("keep capabilities", argv[6]);
    if (setresuid(uid, uid, uid) != 0) die("setuid", argv[3]);
    raise_ambient(ambient, argv[6]);
    if (strchr(argv[7], 'n') && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs", "");
    report_credentials();
    if (!early) install_seccomp();
    execv(argv[9], argv + 10);
    die("exec", argv[9]);
}
