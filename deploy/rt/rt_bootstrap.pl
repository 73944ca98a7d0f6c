#!/usr/bin/perl
# After the data files are loaded: set root's password and create an auth token for the API user.
# Usage (env RT_SITE_CONFIG / RT_SITE_CONFIG_DIR pick the instance):
#   perl rt_bootstrap.pl ROOT_PASSWORD_FILE API_USER TOKEN_FILE
# Both files are written 0600. One RT init for both steps (each RT start-up costs ~1 s).
use strict;
use warnings;
use lib '/usr/local/share/request-tracker5/lib';
use lib '/usr/share/request-tracker5/lib';
use RT;

my ($password_file, $api_user, $token_file) = @ARGV;
die "usage: $0 ROOT_PASSWORD_FILE API_USER TOKEN_FILE\n" unless $token_file;

RT::LoadConfig();
RT::Init();

sub write_secret {
    my ($path, $value) = @_;
    my $old = umask 077;
    open my $fh, '>', $path or die "cannot write $path: $!\n";
    print {$fh} "$value\n";
    close $fh or die "cannot write $path: $!\n";
    umask $old;
    chmod 0600, $path;
}

# `init` on a fresh SQLite file leaves root without a password: give it a random one (web UI login).
my $password = join '', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1..20;
my $root = RT::User->new(RT->SystemUser);
$root->Load('root');
die "no root user\n" unless $root->id;
my ($ok, $msg) = $root->SetPassword($password);
die "setting root's password failed: $msg\n" unless $ok;
write_secret($password_file, $password);

# Created as the system user, so the API user needs no ManageAuthTokens right.
my $user = RT::User->new(RT->SystemUser);
$user->Load($api_user);
die "no such user $api_user\n" unless $user->id;
my $token = RT::AuthToken->new(RT->SystemUser);
my ($id, $token_msg, $authstring) = $token->Create(Owner => $user->id, Description => 'feedback-ml connector');
die "token create failed: $token_msg\n" unless $id;
write_secret($token_file, $authstring);
