# A Rails 6.1 application with the encrypted cookie store, for the Go
# interoperability tests (format/rails). Debian packages it as
# ruby-actionpack, ruby-activesupport and ruby-railties.
#
#   ruby session.rb COOKIE_NAME
#
# reads one JSON request per line on stdin and answers one JSON line each:
#
#   {"op":"seal","keys":[KEY...],"session":{...},"expire_after":SECONDS,"now":UNIX,"serializer":"json"}
#     -> {"cookie":"<value as sent in a Cookie header>","set_cookie":"<header>","session":{...}}
#   {"op":"open","keys":[KEY...],"cookie":"<value>","now":UNIX}
#     -> {"valid":true|false,"session":{...},"cookie":"<re-issued value>"|null}
#
# KEY is {"secret_key_base":"...","digest":"sha1"|"sha256"}, newest first:
# the first is the application's own, the others go into
# config.action_dispatch.cookies_rotations as an upgrading application
# puts them. "sha1" is Rails 6.1's own key derivation; "sha256" gives the
# cookie jar the key generator of Rails 7.0's defaults
# (key_generator_hash_digest_class = SHA256). "now" travels in time around
# the request; "expire_after" is the session store's option of that name;
# "serializer" is the cookies serializer (json, or marshal for old apps).
# The seal request sets the session values, then lets Rails add its CSRF
# token (form_authenticity_token) as an application's first form does.
require "json"
require "logger"
require "openssl"
require "action_controller/railtie"
require "active_support/testing/time_helpers"

COOKIE_NAME = ARGV.fetch(0)

class App < Rails::Application
  config.load_defaults 6.1
  config.eager_load = false
  config.logger = Logger.new(nil)
  config.secret_key_base = "replaced for each request"
  config.hosts.clear
  config.session_store :cookie_store, key: COOKIE_NAME
  config.action_dispatch.cookies_serializer = :json
end

# Rails 7.0's key generator with hash_digest_class SHA256: PBKDF2-HMAC-SHA256
# with the iterations Rails gives it (1000).
class SHA256KeyGenerator < ActiveSupport::KeyGenerator
  def initialize(secret, iterations:)
    super
    @secret, @iterations = secret, iterations
  end

  def generate_key(salt, key_size = 64)
    OpenSSL::PKCS5.pbkdf2_hmac(@secret, salt, @iterations, key_size, OpenSSL::Digest::SHA256.new)
  end
end

def key_generator(key)
  case key.fetch("digest")
  when "sha1" then ActiveSupport::KeyGenerator.new(key.fetch("secret_key_base"), iterations: 1000)
  when "sha256" then SHA256KeyGenerator.new(key.fetch("secret_key_base"), iterations: 1000)
  else raise ArgumentError, "unknown digest #{key["digest"]}"
  end
end

class SessionController < ActionController::Base
  protect_from_forgery with: :exception

  def seal
    data = JSON.parse(params.require(:data))
    data.fetch("session").each { |k, v| session[k] = v }
    form_authenticity_token
    request.session_options[:expire_after] = data["expire_after"] if data["expire_after"]
    render json: session.to_hash
  end

  def open
    valid = !cookies.encrypted[COOKIE_NAME].nil?
    render json: { valid: valid, session: valid ? session.to_hash : nil }
  end
end

App.routes.append do
  get "/seal" => "session#seal"
  get "/open" => "session#open"
end
App.initialize!

class Harness
  include ActiveSupport::Testing::TimeHelpers

  def handle(req)
    keys = req.fetch("keys")
    config = App.env_config
    config["action_dispatch.secret_key_base"] = keys[0].fetch("secret_key_base")
    config["action_dispatch.key_generator"] = ActiveSupport::CachingKeyGenerator.new(key_generator(keys[0]))
    config["action_dispatch.cookies_serializer"] = (req["serializer"] || "json").to_sym
    rotations = ActiveSupport::Messages::RotationConfiguration.new
    keys.drop(1).each do |old|
      salt = config["action_dispatch.authenticated_encrypted_cookie_salt"]
      secret = key_generator(old).generate_key(salt, ActiveSupport::MessageEncryptor.key_len("aes-256-gcm"))
      rotations.rotate :encrypted, secret
    end
    config["action_dispatch.cookies_rotations"] = rotations

    env =
      case req.fetch("op")
      when "seal" then Rack::MockRequest.env_for("/seal", params: { data: JSON.generate(req) })
      when "open" then Rack::MockRequest.env_for("/open", "HTTP_COOKIE" => "#{COOKIE_NAME}=#{req.fetch("cookie")}")
      else raise ArgumentError, "unknown op #{req["op"]}"
      end
    status, headers, body = if req["now"]
      travel_to(Time.at(req["now"])) { App.call(env) }
    else
      App.call(env)
    end
    text = +""
    body.each { |part| text << part }
    body.close if body.respond_to?(:close)
    raise "Rails answered #{status}: #{text}" unless status == 200

    set_cookie = (headers["Set-Cookie"] || "").split("\n").find { |l| l.start_with?("#{COOKIE_NAME}=") }
    value = set_cookie && set_cookie.split(";", 2)[0].split("=", 2)[1]
    answer = JSON.parse(text)
    if req["op"] == "seal"
      { cookie: value, set_cookie: set_cookie, session: answer }
    else
      answer.merge(cookie: value)
    end
  end
end

harness = Harness.new
STDOUT.sync = true
STDIN.each_line do |line|
  begin
    puts JSON.generate(harness.handle(JSON.parse(line)))
  rescue StandardError => e
    puts JSON.generate(error: "#{e.class}: #{e.message}")
  end
end
