/*
 * The microvm agent's device filter: which device nodes the workload's cgroup may open or make.
 *
 *   devcgroup CGROUP DEFAULT RULE...
 *
 * Loads a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to the cgroup folder CGROUP
 * (BPF_F_ALLOW_MULTI, as runc does on cgroup v2), where it stays attached after this program
 * exits, for as long as the cgroup exists. The kernel runs it at every open(2) and mknod(2) of a
 * device node by a process of the cgroup; a refusal is EPERM ("Operation not permitted").
 *
 * RULE is ACTION TYPE ':' MAJOR ':' MINOR ':' ACCESS: ACTION "+" allows, "-" denies; TYPE is
 * "c" (character), "b" (block) or "a" (either); MAJOR and MINOR are numbers or "*" (any);
 * ACCESS is a non-empty subset of "rwm" (read, write, mknod). The first rule that matches an
 * access decides it; none matching, DEFAULT decides ("allow" or "deny"). A rule matches when
 * the type and numbers match and the access asked is within ACCESS.
 *
 * Hand-written BPF, as runc's own devicefilter (libcontainer/cgroups/devices) emits it: a rule
 * list is a few compares and jumps, and libbpf would add a static libelf and zlib to the guest
 * for two system calls (BPF_PROG_LOAD, BPF_PROG_ATTACH), with no compiled BPF object to load.
 * Built static (guest.py), as the agent's other helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 256
#define MAX_INSNS (6 + MAX_RULES * 8 + 2)
#define ANY -1L

struct rule {
    int allow;
    int type;  /* BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK, or 0 for either */
    long major, minor;  /* ANY: any */
    int access;  /* BPF_DEVCG_ACC_* bits */
};

static struct bpf_insn program[MAX_INSNS];
static int length;

static void emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    program[length++] = (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static void usage(const char *why, const char *word) {
    fprintf(stderr, "devcgroup: %s %s\nusage: devcgroup CGROUP allow|deny [+-][cba]:MAJOR:MINOR:ACCESS...\n", why, word);
    exit(2);
}

static long number(const char *word, const char *rule) {
    if (!strcmp(word, "*")) return ANY;
    char *end;
    long value = strtol(word, &end, 10);
    if (*word == '\0' || *end != '\0' || value < 0 || value > 0xfffff) usage("bad number in rule", rule);
    return value;
}

static struct rule parse(char *word) {
    struct rule rule = {0};
    char copy[128];
    snprintf(copy, sizeof copy, "%s", word);
    char *fields[4], *rest = word + 1;
    if (word[0] != '+' && word[0] != '-') usage("a rule starts with + or -:", copy);
    rule.allow = word[0] == '+';
    for (int i = 0; i < 4; i++) {
        fields[i] = strsep(&rest, ":");
        if (!fields[i]) usage("a rule has four fields:", copy);
    }
    if (rest) usage("a rule has four fields:", copy);
    if (!strcmp(fields[0], "c")) rule.type = BPF_DEVCG_DEV_CHAR;
    else if (!strcmp(fields[0], "b")) rule.type = BPF_DEVCG_DEV_BLOCK;
    else if (strcmp(fields[0], "a")) usage("bad device type in rule", copy);
    rule.major = number(fields[1], copy);
    rule.minor = number(fields[2], copy);
    for (const char *c = fields[3]; *c; c++) {
        if (*c == 'r') rule.access |= BPF_DEVCG_ACC_READ;
        else if (*c == 'w') rule.access |= BPF_DEVCG_ACC_WRITE;
        else if (*c == 'm') rule.access |= BPF_DEVCG_ACC_MKNOD;
        else usage("bad access in rule", copy);
    }
    if (!rule.access) usage("no access in rule", copy);
    return rule;
}

/* One rule: each check that fails jumps past the rule's end (its r0 = verdict; exit). */
static void emit_rule(const struct rule *rule) {
    const int all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    int jumps[4], count = 0;
    if (rule->type) {
        jumps[count++] = length;
        emit(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, rule->type);
    }
    if (rule->access != all) {  /* r1 = the access asked, beyond ACCESS: no match */
        emit(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0);
        emit(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, ~rule->access & all);
        jumps[count++] = length;
        emit(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0);
    }
    if (rule->major != ANY) {
        jumps[count++] = length;
        emit(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)rule->major);
    }
    if (rule->minor != ANY) {
        jumps[count++] = length;
        emit(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)rule->minor);
    }
    emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, rule->allow);
    emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (int i = 0; i < count; i++)  /* a jump's offset counts the instructions it skips */
        program[jumps[i]].off = (int16_t)(length - jumps[i] - 1);
}

static long bpf(int command, union bpf_attr *attr) {
    return syscall(SYS_bpf, command, attr, sizeof *attr);
}

int main(int argc, char **argv) {
    if (argc < 3) usage("too few arguments", "");
    if (argc - 3 > MAX_RULES) usage("too many rules", "");
    if (strcmp(argv[2], "allow") && strcmp(argv[2], "deny")) usage("bad default", argv[2]);
    /* r2 = device type, r3 = access asked, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx) */
    emit(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
    emit(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
    emit(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0);
    emit(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16);
    emit(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);
    emit(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);
    for (int i = 3; i < argc; i++) {
        struct rule rule = parse(argv[i]);
        emit_rule(&rule);
    }
    emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, !strcmp(argv[2], "allow"));
    emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    static char log[65536];
    union bpf_attr load = {0};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uintptr_t)program;
    load.insn_cnt = (uint32_t)length;
    load.license = (uintptr_t)"GPL";
    load.log_buf = (uintptr_t)log;
    load.log_size = sizeof log;
    load.log_level = 1;
    int prog = (int)bpf(BPF_PROG_LOAD, &load);
    if (prog < 0) {
        fprintf(stderr, "devcgroup: the kernel refused the program: %s\n%s", strerror(errno), log);
        return 1;
    }
    int cgroup = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup < 0) {
        fprintf(stderr, "devcgroup: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    union bpf_attr attach = {0};
    attach.target_fd = (uint32_t)cgroup;
    attach.attach_bpf_fd = (uint32_t)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, &attach) != 0) {
        fprintf(stderr, "devcgroup: cannot attach to %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}
