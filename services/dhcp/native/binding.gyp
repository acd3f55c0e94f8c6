{
  "targets": [
    {
      "target_name": "dhcp_socket",
      "sources": ["dhcp_socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
