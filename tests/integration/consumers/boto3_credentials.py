#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the credentials a boto3 session resolves for PROFILE, from the files named by
AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE: "<method> <access> <secret> <token>".

usage: boto3_credentials.py PROFILE"""
import sys

import boto3

creds = boto3.Session(profile_name=sys.argv[1]).get_credentials()
if creds is None:
    print('none')
    sys.exit(1)
frozen = creds.get_frozen_credentials()
print(creds.method, frozen.access_key, frozen.secret_key, frozen.token)
