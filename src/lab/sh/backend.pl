#!/usr/bin/perl
# Tiny HTTP service for lab nodes and containers: /health (JSON) and /metrics (Prometheus text).
# Its behaviour comes from an app config file (CONF), read on every request, so a fault is a real
# config change on the node: health=ok|error|badjson, delay_ms=N.
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my ($name, $addr, $port, $conf) = @ARGV;
die "usage: backend.pl NAME ADDR PORT CONF\n" unless defined $conf;
$SIG{PIPE} = 'IGNORE';
my $srv = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Listen => 128,
  ReuseAddr => 1, Proto => 'tcp') or die "backend $name: listen $addr:$port: $!\n";
my $started = time;
my $requests = 0;

sub config {
  my %c = (health => 'ok', delay_ms => 0);
  if (open(my $fh, '<', $conf)) {
    while (<$fh>) { $c{$1} = $2 if /^\s*([a-z_]+)\s*=\s*(\S+)/; }
    close $fh;
  }
  return %c;
}

while (my $c = $srv->accept) {
  $requests++;
  $c->autoflush(1);
  my $line = <$c> // '';
  while (my $h = <$c>) { last if $h =~ /^\r?\n$/; }
  my (undef, $path) = split ' ', $line;
  $path //= '/';
  $path =~ s/\?.*//;
  my %cfg = config();
  my ($code, $type, $body) = (404, 'text/plain', "not found\n");
  if ($path eq '/health') {
    sleep($cfg{delay_ms} / 1000) if $cfg{delay_ms} > 0;
    my $up = time - $started;
    if ($cfg{health} eq 'error') { ($code, $type, $body) = (500, 'application/json', qq({"status":"error","service":"$name"})); }
    elsif ($cfg{health} eq 'badjson') { ($code, $type, $body) = (200, 'application/json', qq({"status":"degraded","service":"$name"})); }
    else { ($code, $type, $body) = (200, 'application/json', qq({"status":"ok","service":"$name","uptime":$up})); }
  } elsif ($path eq '/metrics') {
    my $up = $cfg{health} eq 'ok' ? 1 : 0;
    ($code, $type, $body) = (200, 'text/plain; version=0.0.4',
      "# HELP lab_service_healthy Whether the service reports itself healthy.\n# TYPE lab_service_healthy gauge\n"
      . "lab_service_healthy{service=\"$name\"} $up\n"
      . "# HELP lab_http_requests_total HTTP requests served.\n# TYPE lab_http_requests_total counter\n"
      . "lab_http_requests_total{service=\"$name\"} $requests\n"
      . "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
      . "process_start_time_seconds $started\n");
  } elsif ($path eq '/') {
    ($code, $type, $body) = (200, 'application/json', qq({"service":"$name"}));
  }
  my %reason = (200 => 'OK', 404 => 'Not Found', 500 => 'Internal Server Error');
  print $c "HTTP/1.1 $code $reason{$code}\r\nContent-Type: $type\r\nContent-Length: " . length($body)
    . "\r\nConnection: close\r\n\r\n$body";
  close $c;
}
