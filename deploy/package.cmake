# Install rules and the Debian package (included by the top CMakeLists.txt).
#
#   make install [PREFIX=/usr/local] [DESTDIR=/stage]   the binary, the man page, the bash
#                                                       completion, the systemd unit, the
#                                                       default config (an existing one kept),
#                                                       the Prometheus and Grafana examples
#   make package                                        build/platelet_<version>_<arch>.deb
#
# The unit names the binary and the config by absolute path, so those two paths are
# written into it at install time from the prefix the install runs with (cmake --install
# --prefix, or CPack's /usr): deploy/install_files.cmake.
include(GNUInstallDirs)

install(TARGETS platelet RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page and the bash completion, generated from the binary's own --help at every
# build of it (scripts/gen_cli_docs.py). Not in sanitizer or fuzzing builds, whose
# binaries are for tests.
if(NOT PL_FUZZ AND NOT PL_SANITIZE)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
    set(PL_DOC_DIR ${CMAKE_BINARY_DIR}/doc)
    add_custom_command(
        OUTPUT ${PL_DOC_DIR}/platelet.1 ${PL_DOC_DIR}/platelet.1.gz ${PL_DOC_DIR}/platelet.bash
        COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/scripts/gen_cli_docs.py
                $<TARGET_FILE:platelet> ${PL_DOC_DIR}
        DEPENDS platelet ${CMAKE_SOURCE_DIR}/scripts/gen_cli_docs.py
        COMMENT "Man page and bash completion from platelet's --help")
    add_custom_target(cli_docs ALL DEPENDS ${PL_DOC_DIR}/platelet.1.gz ${PL_DOC_DIR}/platelet.bash)
    install(FILES ${PL_DOC_DIR}/platelet.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    install(FILES ${PL_DOC_DIR}/platelet.bash
            DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME platelet)
endif()
# What an operator points Prometheus and Grafana at (docs/DEPLOY.md).
install(FILES ${CMAKE_CURRENT_LIST_DIR}/prometheus/prometheus.yml
              ${CMAKE_CURRENT_LIST_DIR}/grafana/platelet.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(CODE "
set(PL_DEPLOY_DIR \"${CMAKE_CURRENT_LIST_DIR}\")
set(PL_STAGE_DIR \"${CMAKE_BINARY_DIR}/deploy-stage\")
set(PL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
include(\"${CMAKE_CURRENT_LIST_DIR}/install_files.cmake\")
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME platelet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Platelet")
set(CPACK_PACKAGE_CONTACT "Platelet maintainers <maintainers@platelet.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "decentralised self-healing agent for fleets of machines")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "One small daemon per host gossips membership and health (SWIM with Lifeguard),
elects a healer by Raft, keeps every healing decision in a Merkle-verified
ledger, and heals its own host's services: restarts, back-off, escalation.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://platelet.invalid/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The libraries' packages come from dpkg-shlibdeps; passwd gives postinst useradd.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Install with DESTDIR and the real prefix, so /etc and /lib land where dpkg puts them.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
