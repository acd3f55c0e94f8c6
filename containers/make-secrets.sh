#!/bin/sh
# Create the compose secrets that compose.yaml names, in ./secrets (git-ignored), with a
# random password each, unless the file already exists. Prints each new password once.
# A file may instead hold an scrypt hash of the password (services/ftp/password.ts).
#   containers/make-secrets.sh            # from the repository root, on Pi I
set -eu
cd "$(dirname "$0")/.."
umask 077
mkdir -p secrets
chmod 700 secrets
# The DDNS key (RFC 8945 TSIG, BIND's key-file format): the DNS and DHCP containers share it;
# copy the same file to Pi II's secrets/ so its DHCP can update Pi I's DNS.
f=secrets/ddns_key
if [ -e "$f" ]; then echo "$f exists, kept"; else
  printf 'key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
    "$(head -c 32 /dev/urandom | base64)" > "$f"
  chmod 444 "$f"
  echo "$f: new TSIG key (copy it to Pi II's secrets/)"
fi
# The transfer key Pi II's DNS secondary signs with (config/pi2/dns.yaml): the same file
# on both Pis.
f=secrets/xfr_key
if [ -e "$f" ]; then echo "$f exists, kept"; else
  printf 'key "xfr-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
    "$(head -c 32 /dev/urandom | base64)" > "$f"
  chmod 444 "$f"
  echo "$f: new TSIG key (copy it to Pi II's secrets/)"
fi
for name in ftp_admin ftp_user1 sip_2001 sip_2002 sip_2003 sip_2004 monitor_token; do
  f="secrets/$name"
  if [ -e "$f" ]; then echo "$f exists, kept"; continue; fi
  pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s' "$pw" > "$f"
  # Docker bind-mounts the file as it is: the service user (uid 1000) must be able to read
  # it; the 0700 directory keeps other host users out.
  chmod 444 "$f"
  echo "$f: $pw"
done
