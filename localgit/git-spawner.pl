#!/usr/bin/perl
# The git spawner: a small process that starts git for a large one (the daemon), which talks to it over
# this process's stdin and stdout (localgit/run.ts is its only client, localgit/spawner-frames.ts the
# framing both sides speak).
#
# Node starts a process by forking itself, and a fork copies the parent's page tables and leaves every page
# it had copy-on-write: from a daemon holding a folder of 100,000 files that costs milliseconds per git
# process, and more the larger the folder. This process stays a few MiB whatever the folder, so the fork
# git starts from costs the same at every size. Why Perl: git itself requires it on Debian (nothing new is
# installed) and it is a few MiB resident where a Node process is tens; where there is no perl the daemon
# starts git itself.
#
# Frames, both ways: u32 length of what follows (big-endian), one op byte, u32 id, payload.
#   in   r  run:   u32 argc, u32 envc, then NUL-terminated strings: folder ('' = this one's), argc arguments,
#                  envc `NAME=value`; the rest is git's whole input. Its output comes back as o (stdout) and
#                  x (stderr) frames, then d.
#        s  start: the same, with no input: a long-lived process, its input in w frames and its end an e
#                  frame; stderr dropped. Its stdout comes back as o frames, then d.
#        w  write (a started process's input), e  end (of that input).
#   out  o  stdout bytes, x  stderr bytes,
#        d  done: i32 exit code, -1 when a signal ended it (Node's `close` code null); after all its output,
#        f  failed: git could not be started (the reason as text); nothing else follows for that id.
# Nothing here ever blocks on one pipe while another waits: every pipe is non-blocking, git's input is
# kept per process until git takes it, and one select() waits on them all. Output to the daemon is held
# back (git's output left unread, so git waits) while more than a little of it is not yet taken. When the
# daemon goes (this one's stdin ends) this exits: the git processes still running see their input end, as
# they would had the daemon been killed.
use strict;
use warnings;
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use POSIX qw(EAGAIN EINTR WNOHANG);

$SIG{PIPE} = 'IGNORE';      # a git that exited before reading its input: its exit code says why
$SIG{CHLD} = sub { };       # an exit wakes select()

my $HELD_BACK = 1 << 20;    # output to the daemon not yet taken above which git's output is left unread
my $CHUNK = 65536;

my %kids;                   # id => { pid, in, out, err, pending, ending, status }
my %by_pid;
my $input = '';             # from the daemon, not yet a whole frame
my @output;                 # frames to the daemon, not yet taken (the first from $output_at on)
my ($output_at, $output_size) = (0, 0);
my $daemon_gone = 0;

nonblocking(\*STDIN);
nonblocking(\*STDOUT);
binmode STDIN;
binmode STDOUT;

sub nonblocking {
  my ($fh) = @_;
  my $flags = fcntl($fh, F_GETFL, 0) or die "fcntl: $!";
  fcntl($fh, F_SETFL, $flags | O_NONBLOCK) or die "fcntl: $!";
}

sub reply {
  my ($op, $id, $payload) = @_;
  $payload //= '';
  push @output, pack('NaN', 5 + length($payload), $op, $id) . $payload;
  $output_size += 9 + length $payload;
}

# `$payload` by reference: a run's input may be megabytes, copied as few times as can be.
sub start_git {
  my ($id, $payload, $run) = @_;
  my ($argc, $envc) = unpack('NN', $$payload);
  my ($at, @strings) = (8);
  for (0 .. $argc + $envc) {
    my $end = index($$payload, "\0", $at);
    return reply('f', $id, 'a malformed request') if $end < 0;
    push @strings, substr($$payload, $at, $end - $at);
    $at = $end + 1;
  }
  my ($cwd, @args) = @strings[0 .. $argc];
  my @env = @strings[$argc + 1 .. $argc + $envc];
  # Pipes Perl opens are closed on exec: git gets its three and nothing else of this process's.
  pipe(my $in_r, my $in_w) or return reply('f', $id, "pipe: $!");
  pipe(my $out_r, my $out_w) or return reply('f', $id, "pipe: $!");
  my ($err_r, $err_w);
  if ($run) { pipe($err_r, $err_w) or return reply('f', $id, "pipe: $!") }
  pipe(my $exec_r, my $exec_w) or return reply('f', $id, "pipe: $!");
  my $pid = fork();
  return reply('f', $id, "fork: $!") unless defined $pid;
  if ($pid == 0) {
    $SIG{PIPE} = 'DEFAULT';
    close $exec_r;
    open(STDIN, '<&', $in_r) or failed($exec_w, "stdin: $!");
    open(STDOUT, '>&', $out_w) or failed($exec_w, "stdout: $!");
    if ($run) { open(STDERR, '>&', $err_w) or failed($exec_w, "stderr: $!") }
    else { open(STDERR, '>', '/dev/null') or failed($exec_w, "stderr: $!") }
    if (length $cwd) { chdir $cwd or failed($exec_w, "$cwd: $!") }
    %ENV = map { split /=/, $_, 2 } @env;
    exec { 'git' } 'git', @args or failed($exec_w, "git: $!");
  }
  close $_ for grep { defined } $in_r, $out_w, $err_w, $exec_w;
  # Blocks only until git is exec'd: the pipe ends then (it is closed on exec), or says why it was not.
  my $why = '';
  while (1) {
    my $got = sysread($exec_r, $why, 512, length $why);
    last if defined $got && $got == 0;
    next if !defined $got && $! == EINTR;
    last unless defined $got;
  }
  close $exec_r;
  if (length $why) {
    waitpid($pid, 0);
    close $_ for grep { defined } $in_w, $out_r, $err_r;
    return reply('f', $id, $why);
  }
  nonblocking($_) for grep { defined } $in_w, $out_r, $err_r;
  my $kid = { id => $id, pid => $pid, in => $in_w, out => $out_r, err => $err_r, pending => '', ending => 0 };
  $kids{$id} = $kid;
  $by_pid{$pid} = $kid;
  if ($run) {
    $kid->{pending} = substr($$payload, $at);
    $kid->{ending} = 1;
  }
  flush_input($kid);
}

sub failed {
  my ($fh, $why) = @_;
  syswrite($fh, $why);
  POSIX::_exit(127);
}

# Gives git as much of its pending input as it takes now; closes its input once all is given and it ends.
sub flush_input {
  my ($kid) = @_;
  return unless $kid->{in};
  while (length $kid->{pending}) {
    my $wrote = syswrite($kid->{in}, $kid->{pending}, $CHUNK);
    if (!defined $wrote) {
      return if $! == EAGAIN || $! == EINTR;
      # git closed its input (EPIPE): what it did not read it did not want.
      $kid->{pending} = '';
      $kid->{ending} = 1;
      last;
    }
    substr($kid->{pending}, 0, $wrote, '');
  }
  # A string keeps the largest buffer it ever had: given back once empty, so this process stays small.
  undef $kid->{pending} unless length $kid->{pending};
  $kid->{pending} //= '';
  if ($kid->{ending} && !length $kid->{pending}) {
    close $kid->{in};
    $kid->{in} = undef;
  }
}

sub request {
  my ($op, $id, $payload) = @_;
  if ($op eq 'r' || $op eq 's') { start_git($id, $payload, $op eq 'r') }
  elsif ($op eq 'w') {
    my $kid = $kids{$id} or return;
    return unless $kid->{in};
    $kid->{pending} .= $$payload;
    flush_input($kid);
  }
  elsif ($op eq 'e') {
    my $kid = $kids{$id} or return;
    $kid->{ending} = 1;
    flush_input($kid);
  }
}

sub read_daemon {
  my $got = sysread(STDIN, $input, $CHUNK * 4, length $input);
  if (!defined $got) { return if $! == EAGAIN || $! == EINTR; $daemon_gone = 1; return }
  if ($got == 0) { $daemon_gone = 1; return }
  while (length($input) >= 9) {
    my $length = unpack('N', $input);
    last if length($input) < 4 + $length;
    my ($op, $id) = unpack('x4aN', $input);
    my $payload = substr($input, 9, $length - 5);
    substr($input, 0, 4 + $length, '');
    request($op, $id, \$payload);
    undef $payload;
  }
  undef $input unless length $input;
  $input //= '';
}

# Passes on as many frames as the daemon takes now; false once it is gone.
sub write_daemon {
  while (@output) {
    my $wrote = syswrite(STDOUT, $output[0], length($output[0]) - $output_at, $output_at);
    return $! == EAGAIN || $! == EINTR if !defined $wrote;
    $output_at += $wrote;
    $output_size -= $wrote;
    next if $output_at < length $output[0];
    shift @output;
    $output_at = 0;
  }
  return 1;
}

# Reads what git wrote on one of its pipes ('out' or 'err') and passes it on.
sub read_git {
  my ($kid, $which) = @_;
  my $data = '';
  my $got = sysread($kid->{$which}, $data, $CHUNK);
  return if !defined $got && ($! == EAGAIN || $! == EINTR);
  if (!$got) {
    close $kid->{$which};
    $kid->{$which} = undef;
    return;
  }
  reply($which eq 'out' ? 'o' : 'x', $kid->{id}, $data);
}

# git processes that exited: done once their output is all passed on (as Node's `close`).
sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $kid = $by_pid{$pid} or next;
    $kid->{status} = $?;
  }
  for my $kid (values %kids) {
    next if !defined $kid->{status} || $kid->{out} || $kid->{err};
    my $status = $kid->{status};
    my $code = ($status & 127) ? -1 : $status >> 8;
    close $kid->{in} if $kid->{in};
    delete $kids{$kid->{id}};
    delete $by_pid{$kid->{pid}};
    reply('d', $kid->{id}, pack('N', $code & 0xffffffff));
  }
}

until ($daemon_gone) {
  reap();
  my ($readable, $writable) = ('', '');
  vec($readable, fileno(STDIN), 1) = 1;
  my $taking = $output_size < $HELD_BACK;
  my $waiting_exit = 0;
  for my $kid (values %kids) {
    if ($taking) {
      vec($readable, fileno($kid->{$_}), 1) = 1 for grep { $kid->{$_} } 'out', 'err';
    }
    vec($writable, fileno($kid->{in}), 1) = 1 if $kid->{in} && length $kid->{pending};
    $waiting_exit = 1 if !$kid->{out} && !$kid->{err} && !defined $kid->{status};
  }
  vec($writable, fileno(STDOUT), 1) = 1 if @output;
  # A git whose pipes are all closed but that has not exited yet is looked at again shortly (its exit may
  # come between reap() and select()).
  my $ready = select(my $r = $readable, my $w = $writable, undef, $waiting_exit ? 0.01 : undef);
  next if $ready <= 0;
  read_daemon() if vec($r, fileno(STDIN), 1);
  last if vec($w, fileno(STDOUT), 1) && !write_daemon();
  for my $kid (values %kids) {
    for my $which ('out', 'err') {
      read_git($kid, $which) if $kid->{$which} && vec($r, fileno($kid->{$which}), 1);
    }
    flush_input($kid) if $kid->{in} && vec($w, fileno($kid->{in}), 1);
  }
}
exit 0;
