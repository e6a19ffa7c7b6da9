# SPDX-License-Identifier: Apache-2.0
# bash completion for credrotctl: subcommands, options, and profile names asked of the running
# credrotd (credrotctl status --json; nothing is completed when it is not reachable).
# Installed as /usr/share/bash-completion/completions/credrotctl.

_credrotctl_profiles()
{
    local user=$1 json
    # A short timeout: completion must never hang on a bus that does not answer.
    json=$(credrotctl $user --timeout 2 status --json 2>/dev/null) || return 0
    # {"profiles":[{"name":"demo",...},...]}: the names, without needing jq.
    printf '%s\n' "$json" | grep -o '"name":"[^"]*"' | sed -e 's/^"name":"//' -e 's/"$//'
}

_credrotctl()
{
    local cur prev words cword
    _init_completion -s 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }

    local global_opts="--user --json --timeout --help --version"
    local commands="status rotate verify history keys reload check-config discover"
    local command="" user="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --user) user=--user ;;
            --timeout) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $command ]]; then
                    command=${words[i]}
                fi
                ;;
        esac
    done

    case $prev in
        --timeout | --wait-timeout | -n | --limit)
            return 0 # a number
            ;;
        -c | --config | --clouds-file | --secure-file | --python | -o | --output)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --root)
            COMPREPLY=($(compgen -d -- "$cur"))
            return 0
            ;;
        --cloud | --s3-endpoint)
            return 0 # a name, a URL
            ;;
    esac

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return 0
    fi

    local opts=""
    case $command in
        status) opts="" ;;
        rotate) opts="--all --wait --wait-timeout" ;;
        history) opts="-n --limit" ;;
        verify | keys) opts="" ;;
        reload)
            COMPREPLY=($(compgen -W "--json --user --timeout --help" -- "$cur"))
            return 0
            ;;
        check-config)
            COMPREPLY=($(compgen -W "-c --config --user --help" -- "$cur"))
            return 0
            ;;
        discover)
            COMPREPLY=($(compgen -W "--cloud --clouds-file --secure-file --s3-endpoint --root
                --python --write -o --output --json --user --timeout --help" -- "$cur"))
            return 0
            ;;
        *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --json --user --timeout --help" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -W "$(_credrotctl_profiles "$user")" -- "$cur"))
}

complete -F _credrotctl credrotctl
