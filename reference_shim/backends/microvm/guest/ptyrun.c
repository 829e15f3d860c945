/* ptyrun: run a command on a new pseudo-terminal, for the microvm guest agent.
 *
 * Why a program of the project's own: the guest's busybox (Debian 12's busybox-static 1.35) has
 * no applet that gives a command a pseudo-terminal (no `script`; `telnetd` would add the telnet
 * protocol to the stream), and a shell cannot open /dev/ptmx, unlock it and name its replica.
 *
 * One purpose: COMMAND runs in a session of its own with the replica as its stdin, stdout,
 * stderr and controlling terminal. This program copies its own stdin to the terminal and the
 * terminal's output to its own stdout, writes the replica's path to TTY_FILE (the agent resizes
 * it with `stty -F`, which signals SIGWINCH to the command), forwards the signals it gets (the
 * agent's SIGNAL line) to the command, and exits with the command's status (128 + N after
 * signal N). End of its stdin ends nothing: a terminal's end of input is a ^D, which the host
 * sends. It returns once the command has exited and the terminal's output is drained (or no
 * more came for DRAIN_MS: a background process of the command may hold the terminal open).
 *
 * usage: ptyrun TTY_FILE COMMAND [ARG...]
 * Built by reference_shim/backends/microvm/static_build.py with `gcc -static`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_MS 200
#define BUFFER 65536

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT};

static void die(const char *what) {
    fprintf(stderr, "ptyrun: %s: %s\n", what, strerror(errno));
    exit(126);
}

static int write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t done = write(fd, data, size);
        if (done < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += done;
        size -= (size_t)done;
    }
    return 0;
}

static void publish(const char *path, const char *replica) {
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", path);
    int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, replica, strlen(replica)) < 0 || close(fd) < 0) die(partial);
    if (rename(partial, path) < 0) die(path);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ptyrun TTY_FILE COMMAND [ARG...]\n");
        return 125;
    }
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) die("/dev/ptmx");
    char replica[256];
    if (ptsname_r(master, replica, sizeof replica) != 0) die("ptsname");

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&signals, forwarded[i]);
    if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0) die("sigprocmask");
    int events = signalfd(-1, &signals, SFD_CLOEXEC);
    if (events < 0) die("signalfd");

    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        sigprocmask(SIG_UNBLOCK, &signals, NULL);
        if (setsid() < 0) die("setsid");
        int terminal = open(replica, O_RDWR);
        if (terminal < 0) die(replica);
        if (ioctl(terminal, TIOCSCTTY, 0) < 0) die("TIOCSCTTY");
        for (int fd = 0; fd < 3; fd++)
            if (dup2(terminal, fd) < 0) die("dup2");
        if (terminal > 2) close(terminal);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "ptyrun: %s: %s\n", argv[2], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    publish(argv[1], replica);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

    char input[BUFFER], output[BUFFER];
    size_t pending = 0;  /* bytes of input read from stdin, not yet written to the terminal */
    int stdin_open = 1, status = 0, exited = 0;
    for (;;) {
        struct pollfd polled[3] = {
            {.fd = master, .events = POLLIN | (pending ? POLLOUT : 0)},
            {.fd = events, .events = POLLIN},
            {.fd = stdin_open && !pending ? STDIN_FILENO : -1, .events = POLLIN},
        };
        int ready = poll(polled, 3, exited ? DRAIN_MS : -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (ready == 0) break; /* exited, and nothing more came */
        if (polled[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (read(events, &info, sizeof info) == sizeof info) {
                if (info.ssi_signo != SIGCHLD)
                    kill(child, (int)info.ssi_signo);
                else if (!exited && waitpid(child, &status, WNOHANG) == child)
                    exited = 1;
            }
        }
        if (polled[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = read(STDIN_FILENO, input, sizeof input);
            if (got > 0)
                pending = (size_t)got;
            else if (got == 0 || errno != EINTR)
                stdin_open = 0;
        }
        if (pending) {
            ssize_t done = write(master, input, pending);
            if (done > 0) {
                memmove(input, input + done, pending - (size_t)done);
                pending -= (size_t)done;
            } else if (done < 0 && errno != EAGAIN && errno != EINTR) {
                pending = 0;
            }
        }
        if (polled[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = read(master, output, sizeof output);
            if (got > 0) {
                if (write_all(STDOUT_FILENO, output, (size_t)got) < 0) break;
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                break; /* EIO: no process holds the terminal any more */
            }
        }
    }
    if (!exited) waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
