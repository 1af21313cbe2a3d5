#!/usr/bin/perl
# The remote helper where the repository's daemon runs: bin/git-remote-cloudbridge starts this, as
# `perl through-daemon.pl <launcher> <remote> <url>`, when `.git/cloudbridge/daemon.sock` exists (or in a
# linked worktree, whose repository's directory may have one). It asks the
# daemon to take git's whole conversation (protocol/daemon-request.ts, `remote-helper`; the daemon's side is
# agent/remote-requests.ts, which holds it with the helper's own code), then relays git's lines to the
# daemon as they are and the daemon's frames back to git (`out`) and to stderr (`err`) until its `exit`.
# Whenever the daemon cannot be asked (none listens, the socket is not the user's or is open to others) or
# declines (another repository, other settings, an older daemon), it has told git nothing yet: the launcher
# runs again with CLOUDBRIDGE_HELPER_ALONE=1, and the helper that works alone (./main.ts) holds the
# conversation from its start.
#
# Why Perl: a push through the daemon is the daemon's work plus this relay's start, and Node alone takes
# ~25 ms to start, more than native git's whole push (docs/performance.md); Perl starts in ~2 ms, and git
# itself requires it on Debian, so it adds no dependency there (where there is no perl, the launcher runs
# the helper alone). To start that fast it loads no module but strict and Digest::SHA (Socket.pm alone
# costs 7 ms): Perl's built-in socket functions, with Linux's numbers for AF_UNIX and SOCK_STREAM
# (Socket.pm's only where those are not right).
use strict;

my ($launcher, @args) = @ARGV;
my $url = $args[1] // $args[0];
my $git_dir = $ENV{GIT_DIR};
$SIG{PIPE} = 'IGNORE';

# The conversation to the helper that works alone, from its start; `$why` said first when worth saying.
sub alone {
  my ($why) = @_;
  print STDERR "cloudbridge: $why; working without the daemon.\n" if defined $why;
  $ENV{CLOUDBRIDGE_HELPER_ALONE} = '1';
  exec {$launcher} $launcher, @args;
  die "git-remote-cloudbridge: could not run $launcher: $!\n";
}

# Writes all of $data to $fh, or returns false (the other end is gone).
sub put {
  my ($fh, $data) = @_;
  while (length $data) {
    my $n = syswrite($fh, $data);
    return 0 unless defined $n;
    substr($data, 0, $n) = '';
  }
  return 1;
}

alone() unless defined $url && defined $git_dir && $git_dir ne '';
# In a linked worktree (`git worktree add`) git names the worktree's own git directory, whose `commondir`
# names the repository's: the daemon's socket is there, and the daemon is asked to resolve a push's sources
# (`HEAD`, as git sends them) in the worktree's (protocol/daemon-request.ts, remote-helper-in-worktree).
# Where GIT_COMMON_DIR says otherwise, the helper alone reads it.
my ($state_dir, $worktree) = ($git_dir, undef);
if (open my $named, '<', "$git_dir/commondir") {
  alone() if defined $ENV{GIT_COMMON_DIR};
  my $common = <$named> // '';
  close $named;
  $common =~ s/\r?\n\z//;
  alone() if $common eq '';
  $worktree = $git_dir;
  if ($worktree !~ m{\A/}) {
    require Cwd;
    $worktree = Cwd::getcwd() . "/$worktree";
  }
  $state_dir = $common =~ m{\A/} ? $common : "$worktree/$common";
  # `.git/worktrees/<name>/../..` as `.git`: the socket's path must fit in sun_path.
  1 while $state_dir =~ s{/(?!\.\.?/)[^/]+/\.\.(?=/|\z)}{};
}
my $path = "$state_dir/cloudbridge/daemon.sock";
# sun_path holds 108 bytes on Linux: a daemon whose folder is deeper than that listens on no socket.
alone() if length($path) > 103;

# Trusted only when it is the user's own and open to nobody else (localgit/daemon-socket.ts says why).
my @stat = lstat $path or alone();
alone("$path is not a socket") unless -S _;
alone("$path belongs to user $stat[4], not to you ($<): not trusted") if $stat[4] != $<;
alone(sprintf('%s is open to other users (mode %o): not trusted', $path, $stat[2] & 0777)) if $stat[2] & 077;

# Whether the last error ($!, saved as $errno) is one of the named ones: Errno is loaded only then (Perl loads it
# at compile time wherever %! is written, a cost at every push).
sub errno_is {
  my ($errno, @names) = @_;
  require Errno;
  return grep { my $code = Errno->can($_); $code && $errno == $code->() } @names;
}

my $sock;
sub connect_with {
  my ($family, $type, $address) = @_;
  return socket($sock, $family, $type, 0) && connect($sock, $address);
}
$! = 0;
# Linux numbers AF_UNIX 1 and SOCK_STREAM 1 everywhere but on MIPS, where a stream connect with 1 fails
# (EPROTOTYPE): any failure but "nobody listens" is tried again with Socket.pm's numbers.
unless ($^O eq 'linux' && connect_with(1, 1, pack('S Z108', 1, $path))) {
  my $errno = $! + 0;
  alone() if errno_is($errno, 'ENOENT', 'ECONNREFUSED');    # a daemon that died left its socket, or it just went
  require Socket;
  connect_with(Socket::AF_UNIX(), Socket::SOCK_STREAM(), Socket::pack_sockaddr_un($path)) or do {
    my $why = "$!";
    alone() if errno_is($! + 0, 'ENOENT', 'ECONNREFUSED');
    alone("could not ask the daemon on $path: $why");
  };
}

# The settings of this environment the daemon must share (protocol/daemon-request.ts, settingsText and
# SETTINGS_ENVIRONMENT / SETTINGS_CONFIG: keep these in step; test/unit/gitstore/helper-through-daemon.test.ts
# compares them). A difference in an unusual case (non-ASCII keys) only makes the daemon decline.
my @settings = map { "$_=$ENV{$_}\n" }
  grep { /\A(?:AWS_.*|GIT_CONFIG_PARAMETERS|GIT_CONFIG_GLOBAL|GIT_CONFIG_SYSTEM|GIT_CONFIG_NOSYSTEM|HOME|USERPROFILE|XDG_CONFIG_HOME|CLOUDBRIDGE_IDENTITY)\z/ && $ENV{$_} ne '' }
  keys %ENV;
my $count = $ENV{GIT_CONFIG_COUNT} // 0;
if ($count =~ /\A[0-9]+\z/) {
  for my $i (0 .. $count - 1) {
    my $key = $ENV{"GIT_CONFIG_KEY_$i"} // '';
    push @settings, 'git config ' . lc($key) . '=' . ($ENV{"GIT_CONFIG_VALUE_$i"} // '') . "\n"
      if $key =~ /\A(?:cloudbridge\.(?:endpoint|region|profile|encrypted|agent|bucket|prefix|repo)|annex\.uuid|include\..*|includeif\..*)\z/i;
  }
}
# Digest::SHA ships with Perl itself (about 2 ms to load).
require Digest::SHA;
my $digest = Digest::SHA::sha256_hex(join '', sort @settings);

sub json_string {
  my ($text) = @_;
  $text =~ s/(["\\])/\\$1/g;
  $text =~ s/([\x00-\x1f\x7f])/sprintf('\\u%04x', ord $1)/ge;
  return qq("$text");
}
my $ask =
  defined $worktree
  ? qq("ask":"remote-helper-in-worktree","url":@{[json_string($url)]},"settings":"$digest","worktree":@{[json_string($worktree)]})
  : qq("ask":"remote-helper","url":@{[json_string($url)]},"settings":"$digest");
put($sock, qq({"version":1,$ask}\n)) or alone("could not ask the daemon on $path: $!");

# The daemon's reply: it takes the conversation, or declines (then git has been told nothing) with one of
# protocol/daemon-request.ts REFUSALS (test/unit/gitstore/helper-through-daemon.test.ts holds the two equal).
my $received = '';
until ($received =~ /\n/) {
  my $n = sysread($sock, $received, 65536, length $received);
  alone() if !$n && $received eq '';    # it stopped before it answered
  alone("the daemon on $path stopped before it answered") if !$n || length($received) > 262144;
}
my ($reply) = $received =~ /\A([^\n]*)\n/;
$received = substr($received, length($reply) + 1);
if ($reply ne '{"ok":true,"value":"conversation"}') {
  alone() if $reply =~ /\A\{"ok":false,"code":"(?:unsupported|bad-request|not-served|settings-differ)"/;
  alone("the daemon on $path answered what this helper does not understand: " . substr($reply, 0, 200));
}

sub fail {
  print STDERR "git-remote-cloudbridge: $_[0]\n";
  exit 1;
}

# What git asked and was answered so far, for the helper alone to take over from if the daemon stops in
# the middle (killed, or its machine going down): every byte git sent, the kind of each command's answer
# ('line': an option's; 'block': capabilities, a list, a fetch or push batch, ended by a blank line), and
# how many answers git had whole, how many lines of the next.
my ($from_git, $unparsed, $in_batch, $answered, $partial) = ('', '', 0, 0, 0);
my @kinds;
sub from_git {
  my ($data) = @_;
  $from_git .= $data;
  $unparsed .= $data;
  while ($unparsed =~ s/\A([^\n]*)\n//) {
    my $line = $1;
    if ($in_batch) { $in_batch = 0 if $line eq ''; next }
    next if $line eq '';    # the end of the conversation: no answer
    push @kinds, $line =~ /\Aoption / ? 'line' : 'block';
    $in_batch = 1 if $line =~ /\A(?:fetch|push) /;
  }
}
# Whether $line ends an answer of $kind.
sub ends_answer {
  my ($kind, $line) = @_;
  return ($kind // 'block') eq 'line' || $line eq '';
}

# The conversation: git's bytes to the daemon as they come, the daemon's frames out as they come.
my ($stdin_open, $exit) = (1, undef);
sub frames {
  while ($received =~ s/\A([^\n]*)\n//) {
    my $frame = $1;
    if ($frame =~ /\Aout (.*)\z/s) {
      put(\*STDOUT, "$1\n") or exit 1;
      if (ends_answer($kinds[$answered], $1)) { ($answered, $partial) = ($answered + 1, 0) }
      else { $partial++ }
    }
    elsif ($frame =~ /\Aerr (.*)\z/s) { put(\*STDERR, "$1\n") }
    elsif ($frame =~ /\Aexit ([0-9]{1,3})\z/) { $exit = $1 }
    else { fail("the daemon sent what is not a frame of the conversation: $frame") }
  }
}
my ($in, $fd) = (fileno(STDIN), fileno($sock));
for (;;) {
  frames();
  my $wanted = '';
  vec($wanted, $fd, 1) = 1;
  vec($wanted, $in, 1) = 1 if $stdin_open;
  my $ready;
  if (select($ready = $wanted, undef, undef, undef) < 0) {
    my $why = "$!";
    next if errno_is($! + 0, 'EINTR');
    fail($why);
  }
  if ($stdin_open && vec($ready, $in, 1)) {
    my $n = sysread(STDIN, my $data, 65536);
    if (!$n) {
      $stdin_open = 0;
      shutdown($sock, 1);    # git is done: the daemon's conversation ends when it has answered
    }
    else {
      from_git($data);
      last unless put($sock, $data);
    }
  }
  if (vec($ready, $fd, 1)) {
    last unless sysread($sock, $received, 65536, length $received);
  }
}
frames();
exit $exit if defined $exit;
# The daemon stopped mid-conversation. Every command is safe to do again — a push lands whole by its last
# write or not at all, and one that landed is up to date the second time; a fetch or a list only reads — so
# the helper alone is asked everything git asked, its answers git already had are left out, and the rest is
# git's. Only an answer cut in the middle cannot be taken over: git has part of it, and the second may differ.
if ($partial) {
  fail('the daemon serving this folder stopped in the middle of its answer; nothing is left half done in the bucket '
      . '(a push lands whole or not at all): run the command again.');
}
print STDERR "cloudbridge: the daemon serving this folder stopped before it answered; going on without it.\n";
close $sock;
pipe(my $child_in, my $to_child) or fail("could not go on without the daemon: $!");
pipe(my $from_child, my $child_out) or fail("could not go on without the daemon: $!");
my $pid = fork();
fail("could not go on without the daemon: $!") unless defined $pid;
if ($pid == 0) {
  close $to_child;
  close $from_child;
  open(STDIN, '<&', $child_in) or die "git-remote-cloudbridge: $!\n";
  open(STDOUT, '>&', $child_out) or die "git-remote-cloudbridge: $!\n";
  $ENV{CLOUDBRIDGE_HELPER_ALONE} = '1';
  exec {$launcher} $launcher, @args;
  die "git-remote-cloudbridge: could not run $launcher: $!\n";
}
close $child_in;
close $child_out;
# What git sent is handed to the helper as it takes it, while its answers are read: git may have sent more
# than a pipe holds (a push of thousands of refs: hundreds of KiB), and a helper that answers before it reads
# on waits for its answers to be read; a write of it all before reading any would wait on that helper forever.
# (Fcntl ships with Perl; loaded only here, on the way that is taken when a daemon died.)
require Fcntl;
fcntl($to_child, Fcntl::F_SETFL(), Fcntl::O_NONBLOCK()) or fail("could not go on without the daemon: $!");
my ($pending, $to) = ($from_git, fileno($to_child));
my ($skipped, $held, $out) = (0, '', fileno($from_child));
for (;;) {
  if (defined $to && !$stdin_open && $pending eq '') {
    close $to_child;    # git is done and the helper has it all
    undef $to;
  }
  my ($wanted, $writable) = ('', undef);
  vec($wanted, $out, 1) = 1;
  vec($wanted, $in, 1) = 1 if $stdin_open;
  vec($writable, $to, 1) = 1 if defined $to && $pending ne '';
  my ($ready, $can_write);
  if (select($ready = $wanted, $can_write = $writable, undef, undef) < 0) {
    next if errno_is($! + 0, 'EINTR');
    last;
  }
  if (defined $can_write && vec($can_write, $to, 1)) {
    my $n = syswrite($to_child, $pending);
    if (defined $n) { substr($pending, 0, $n) = '' }
    elsif (!errno_is($! + 0, 'EAGAIN', 'EWOULDBLOCK')) { $pending = '' }    # the helper stopped: its exit says so
  }
  if ($stdin_open && vec($ready, $in, 1)) {
    my $n = sysread(STDIN, my $data, 65536);
    if ($n) { $pending .= $data }
    else { $stdin_open = 0 }
  }
  if (vec($ready, $out, 1)) {
    my $n = sysread($from_child, my $data, 65536);
    last unless $n;
    if ($skipped < $answered) {
      $held .= $data;
      while ($skipped < $answered && $held =~ s/\A([^\n]*)\n//) { $skipped++ if ends_answer($kinds[$skipped], $1) }
      next if $skipped < $answered;
      ($data, $held) = ($held, '');
    }
    put(\*STDOUT, $data) or last;
  }
}
close $to_child if defined $to;
waitpid($pid, 0);
exit($? & 127 ? 1 : $? >> 8);
