# Multi-arch build of the netsvc image (containers/Dockerfile), arm/v7 first: the reference
# ran Raspberry Pi OS 32-bit. Needs buildx with QEMU binfmt for the foreign platforms:
#
#   docker buildx create --use --name netsvc-builder          # once
#   docker buildx bake --push                                 # all platforms, REGISTRY=ghcr.io/you/
#   docker buildx bake local                                  # this machine's platform, into `docker images`
#
# Compiling better-sqlite3 under QEMU takes minutes per foreign platform; the build stage is
# cached until package-lock.json changes.

variable "REGISTRY" {
  default = ""
}
variable "VERSION" {
  default = "0.1.0"
}
variable "REVISION" {
  default = "unknown"
}
variable "CREATED" {
  default = "unknown"
}

group "default" {
  targets = ["netsvc"]
}

target "netsvc" {
  context    = "."
  dockerfile = "containers/Dockerfile"
  platforms  = ["linux/arm/v7", "linux/arm64", "linux/amd64"]
  tags       = ["${REGISTRY}netsvc:${VERSION}"]
  args = {
    VERSION  = VERSION
    REVISION = REVISION
    CREATED  = CREATED
  }
}

# The host's own platform only, loaded into the local image store (what compose.yaml uses).
target "local" {
  inherits  = ["netsvc"]
  platforms = []
  output    = ["type=docker"]
}
