# Run at install time (deploy/package.cmake): installs the systemd unit and the default
# config for the prefix this install runs with. CMAKE_INSTALL_PREFIX is the install-time
# one here; file(INSTALL) adds $DESTDIR itself.
#
#   prefix /usr (the package):  /lib/systemd/system/platelet.service, /etc/platelet/agent.json
#   any other prefix P:         P/lib/systemd/system/platelet.service, P/etc/platelet/agent.json
# (systemd reads units from /usr/local/lib/systemd/system too.)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(pl_sysconfdir "/etc")
    set(pl_unitdir "/lib/systemd/system")
else()
    set(pl_sysconfdir "${CMAKE_INSTALL_PREFIX}/etc")
    set(pl_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

file(READ "${PL_DEPLOY_DIR}/systemd/platelet.service" pl_unit)
string(REPLACE "/usr/bin/platelet " "${CMAKE_INSTALL_PREFIX}/${PL_BINDIR}/platelet " pl_unit "${pl_unit}")
string(REPLACE "/etc/platelet/agent.json" "${pl_sysconfdir}/platelet/agent.json" pl_unit "${pl_unit}")
file(MAKE_DIRECTORY "${PL_STAGE_DIR}")
file(WRITE "${PL_STAGE_DIR}/platelet.service" "${pl_unit}")
file(INSTALL DESTINATION "${pl_unitdir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${PL_STAGE_DIR}/platelet.service")

# An operator's config is never overwritten by `make install` (dpkg handles its own
# conffile).
if(EXISTS "$ENV{DESTDIR}${pl_sysconfdir}/platelet/agent.json")
    message(STATUS "Kept: $ENV{DESTDIR}${pl_sysconfdir}/platelet/agent.json (already there)")
else()
    file(INSTALL DESTINATION "${pl_sysconfdir}/platelet" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
         FILES "${PL_DEPLOY_DIR}/debian/agent.json")
endif()
