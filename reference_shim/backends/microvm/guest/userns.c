/*
 * The microvm agent's user namespace helper (CRI userns_options, mode POD).
 *
 *   userns ROOT FILE UIDS GIDS
 *
 * makes a user namespace whose uid_map and gid_map are UIDS and GIDS (each a comma-separated
 * list of CONTAINER:HOST:LENGTH extents, the kernel's uid_map lines), keeps it at FILE (a bind
 * mount of its nsfs file: the workload, its execs and its sessions all join that one namespace,
 * as the containers of a pod join the pod's under containerd; the launcher does when FILE
 * exists), and replaces the mount tree at ROOT by a clone whose top mount, the container's root
 * disk, is idmapped to that namespace (open_tree, mount_setattr MOUNT_ATTR_IDMAP, move_mount):
 * a file the image gave to root, uid 0 on the disk, is then HOST's uid in the guest and root's
 * inside the namespace, and what the container's root writes is root's on the disk. Only the
 * top mount is idmapped: the guest's 6.1 kernel idmaps neither tmpfs nor virtiofs (FUSE), so
 * the mounts from the host keep the host's owners, as the namespace maps them.
 *
 * The maps are written from outside: a process inside a new namespace may map only its own
 * uid; its parent, root of the guest, may map any. So a child makes the namespace and waits,
 * and this process writes its maps, keeps the namespace and lets the child go.
 *
 * Hand-written because nothing in the guest does it: busybox (1.35) has no applet for idmapped
 * mounts and its unshare has no --map-users; util-linux's are dynamically linked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "microvm userns: %s %s: %s\n", what, detail, strerror(errno));
    exit(1);
}

/* "C:H:L,C:H:L" as the kernel's map, one "C H L" line per extent, written in one write. */
static void write_map(pid_t pid, const char *name, const char *extents) {
    char map[4096], path[64];
    size_t used = 0;
    const char *word = extents;
    while (*word) {
        unsigned long inside, outside, length;
        int read = 0;
        if (sscanf(word, "%lu:%lu:%lu%n", &inside, &outside, &length, &read) != 3) {
            errno = EINVAL;
            die("parse", extents);
        }
        int wrote = snprintf(map + used, sizeof map - used, "%lu %lu %lu\n", inside, outside, length);
        if (wrote < 0 || (size_t)wrote >= sizeof map - used) {
            errno = E2BIG;
            die("map", extents);
        }
        used += (size_t)wrote;
        word += read;
        if (*word == ',') word++;
        else if (*word) {
            errno = EINVAL;
            die("parse", extents);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("open", path);
    if (write(fd, map, used) != (ssize_t)used) die("write", path);
    close(fd);
}

/* The namespace with the maps, kept at FILE; its file descriptor. */
static int make_namespace(const char *file, const char *uids, const char *gids) {
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) die("pipe", "");
    pid_t child = fork();
    if (child < 0) die("fork", "");
    if (child == 0) {
        char byte = 0;
        close(ready[0]);
        close(done[1]); /* else the child would hold its own end of input open */
        if (unshare(CLONE_NEWUSER) != 0) _exit(1);
        if (write(ready[1], &byte, 1) != 1) _exit(1);
        if (read(done[0], &byte, 1) < 0) _exit(1); /* end of input: the parent kept it */
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) {
        errno = ECHILD;
        die("unshare", "a user namespace");
    }
    write_map(child, "uid_map", uids);
    write_map(child, "gid_map", gids);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
    int keep = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (keep < 0) die("create", file);
    close(keep);
    if (mount(path, file, NULL, MS_BIND, NULL) != 0) die("keep the namespace at", file);
    close(done[1]);
    waitpid(child, NULL, 0);
    int namespace = open(file, O_RDONLY | O_CLOEXEC);
    if (namespace < 0) die("open", file);
    return namespace;
}

/* The tree at ROOT replaced by a clone whose top mount is idmapped to NAMESPACE. */
static void idmap_root(const char *root, int namespace) {
    int tree = open_tree(AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) die("open_tree", root);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned)namespace};
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) die("idmap", root);
    if (umount2(root, MNT_DETACH) != 0) die("detach", root);
    if (move_mount(tree, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) != 0) die("move_mount", root);
    close(tree);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: userns ROOT FILE UIDS GIDS\n");
        return 2;
    }
    int namespace = make_namespace(argv[2], argv[3], argv[4]);
    idmap_root(argv[1], namespace);
    return 0;
}
