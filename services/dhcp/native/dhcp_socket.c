/*
 * dhcp_socket: open an IPv4 UDP socket bound to one network device (SO_BINDTODEVICE,
 * socket(7)) and return its file descriptor; Node's dgram then wraps it with
 * `socket.bind({ fd })`. This is the one thing Node's dgram cannot do itself: a DHCP server
 * must receive the limited broadcast 255.255.255.255 (RFC 2131 §4.1), which only a socket
 * bound to INADDR_ANY gets, and must know which interface a broadcast came in on and send
 * its broadcast reply out of that same interface. A socket bound to 0.0.0.0:67 *and* to a
 * device does both: the kernel delivers to it only what arrived on that device and routes
 * everything it sends out of that device.
 *
 * Privileges: binding port 67 needs CAP_NET_BIND_SERVICE; SO_BINDTODEVICE needs CAP_NET_RAW
 * on kernels before 5.7 (since 5.7 an unprivileged process may bind a socket not yet bound
 * to a device). Nothing else: no raw or packet socket is opened.
 *
 * Leaves out: raw/packet sockets (replies to clients without an address are broadcast,
 * as Kea does with "dhcp-socket-type": "udp"), IPv6, IP_PKTINFO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <node_api.h>

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    default: return "ERR_DHCP_SOCKET";
  }
}

static napi_value fail(napi_env env, const char *what, int e, int fd) {
  char msg[256];
  if (fd >= 0) close(fd);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_code(e), msg);
  return NULL;
}

/* openDeviceSocket(ifname: string, port: number, address?: string): number (fd) */
static napi_value OpenDeviceSocket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char ifname[IF_NAMESIZE + 1] = {0};
  char addr[64] = "0.0.0.0";
  size_t len = 0;
  int32_t port = 0;
  napi_valuetype t;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, "ERR_DHCP_SOCKET_ARGS", "openDeviceSocket(ifname, port[, address])");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 ||
      len >= IF_NAMESIZE) {
    napi_throw_type_error(env, "ERR_DHCP_SOCKET_ARGS", "ifname must be a non-empty interface name");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, "ERR_DHCP_SOCKET_ARGS", "port must be 0-65535");
    return NULL;
  }
  if (argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t == napi_string) {
    napi_get_value_string_utf8(env, argv[2], addr, sizeof addr, &len);
  }

  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
    napi_throw_type_error(env, "ERR_DHCP_SOCKET_ARGS", "address must be an IPv4 address");
    return NULL;
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, "socket", errno, -1);
  int one = 1;
  /* Several sockets share port 67, one per device (one process serving several interfaces). */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail(env, "SO_REUSEADDR", errno, fd);
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) return fail(env, "SO_BROADCAST", errno, fd);
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
    return fail(env, "SO_BINDTODEVICE", errno, fd);
  }
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) return fail(env, "bind", errno, fd);

  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "openDeviceSocket", NAPI_AUTO_LENGTH, OpenDeviceSocket, NULL, &fn);
  napi_set_named_property(env, exports, "openDeviceSocket", fn);
  return exports;
}
