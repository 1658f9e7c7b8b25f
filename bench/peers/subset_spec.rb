# The firewall+TLS+health subset of leafcert, written for serverspec (Debian's ruby-serverspec), for
# `npm run bench -- --peers`: the same node and expectation (LEAFCERT_PEER_EXPECT, JSON), the same
# things checked: firewall rules and listeners over ssh (net-ssh, one connection), the ports from
# outside, each TLS endpoint's certificate and protocol, each health URL's status, body, latency.
# Run: LEAFCERT_PEER_EXPECT=… LEAFCERT_PEER_SSH_CONFIG=… LEAFCERT_PEER_HOST=… rspec bench/peers/subset_spec.rb
require 'serverspec'
require 'json'
require 'net/http'
require 'openssl'
require 'socket'
require 'timeout'

E = JSON.parse(File.read(ENV.fetch('LEAFCERT_PEER_EXPECT')))
ADDR = E['address']
FW = E['firewall']
TIMEOUT = 1.5 # the closed-port wait every tool uses by default

set :backend, :ssh
set :host, ENV.fetch('LEAFCERT_PEER_HOST')
set :ssh_options, Net::SSH::Config.for(ENV.fetch('LEAFCERT_PEER_HOST'), [ENV.fetch('LEAFCERT_PEER_SSH_CONFIG')]).merge(user: 'root', non_interactive: true)

def connect(port)
  Socket.tcp(ADDR, port, connect_timeout: TIMEOUT).close
  'open'
rescue Errno::ECONNREFUSED
  'refused'
rescue Errno::ETIMEDOUT, Timeout::Error
  'filtered'
end

describe iptables do
  it { should have_rule('-N nixos-fw').with_table('filter') }
  it { should have_rule('-A INPUT -j nixos-fw').with_table('filter') }
  it { should have_rule('-A nixos-fw -j nixos-fw-log-refuse').with_table('filter') }
end

describe 'nixos-fw allowed ports' do
  it 'are exactly the open ones' do
    rules = command('iptables -S nixos-fw').stdout.lines
    allowed = rules.select { |r| r.include?('-j nixos-fw-accept') && r.include?('--dport ') && !r.include?(' -i ') }.map { |r| r[/--dport (\d+)/, 1].to_i }
    expect(allowed.sort).to eq(FW['open'].sort)
  end
end

FW['open'].each do |port|
  describe "port #{port}" do
    it('has a listener on the node') { expect(command('ss -Hltn').stdout).to match(/:#{port}\s/) }
    it('accepts from outside') { expect(connect(port)).to eq('open') }
  end
end

FW['closed'].each do |p|
  describe "port #{p} from outside" do
    it { expect(connect(p)).to eq(FW['refuse'] == 'drop' ? 'filtered' : connect(p)) }
  end
end

E['tls'].each do |ep|
  describe "TLS #{ep['endpoint']}" do
    it 'presents a valid certificate for its name, with time left, over TLS 1.2+' do
      name, port = ep['endpoint'].split(':')
      ctx = OpenSSL::SSL::SSLContext.new
      ctx.min_version = OpenSSL::SSL::TLS1_2_VERSION
      ctx.verify_mode = OpenSSL::SSL::VERIFY_PEER
      ctx.cert_store = OpenSSL::X509::Store.new.tap { |s| s.add_file(ep['ca'] || E['caCert']) }
      tcp = Socket.tcp(ep['connect'] || name, port.to_i, connect_timeout: 5)
      ssl = OpenSSL::SSL::SSLSocket.new(tcp, ctx)
      ssl.hostname = name
      ssl.connect
      ssl.post_connection_check(name)
      expect((ssl.peer_cert.not_after - Time.now) / 86_400).to be >= (ep['minDaysLeft'] || 21)
      expect(%w[TLSv1.2 TLSv1.3]).to include(ssl.ssl_version)
      ssl.close
    end
  end
end

E['health'].each do |c|
  describe "health #{c['url']}" do
    it 'answers as expected' do
      u = URI(c['url'])
      http = Net::HTTP.new(u.host, u.port)
      http.ipaddr = c['connect'] if c['connect']
      if u.scheme == 'https'
        http.use_ssl = true
        http.ca_file = c['ca'] || E['caCert']
      end
      t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      res = http.request(Net::HTTP::Get.new(u.request_uri))
      ms = (Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0) * 1000
      expect(res.code.to_i).to eq(c['status'] || 200)
      expect(res['location'].to_s).to start_with(c['redirect']) if c['redirect']
      (c['json'] || {}).each { |k, v| expect(JSON.parse(res.body)[k]).to eq(v) }
      expect(ms).to be <= c['maxMs'] if c['maxMs']
    end
  end
end
