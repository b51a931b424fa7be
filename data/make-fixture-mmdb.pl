#!/usr/bin/perl
#
# make-fixture-mmdb.pl - builds the fake GeoIP databases from geo-fixtures.json.
#
#   perl make-fixture-mmdb.pl data/geo-fixtures.json OUT_DIR
#
# writes, into OUT_DIR:
#   loginrisk-city.mmdb       database_type GeoIP2-City          (IPv6 tree)
#   loginrisk-asn.mmdb        database_type GeoLite2-ASN         (IPv6 tree)
#   loginrisk-anonymous.mmdb  database_type GeoIP2-Anonymous-IP  (IPv6 tree)
#   loginrisk-city-ipv4.mmdb  database_type GeoIP2-City, IPv4-only tree, for
#                             the unit tests of IPv6 lookups in IPv4 trees
#
# The records have the shape of MaxMind's own databases, so the agent reads
# them with the same code paths as real GeoIP2/GeoLite2 files. Each file is
# written to a temporary name and renamed, so a failed run never leaves a
# half-written database behind for the build to pick up.
#
# Uses Debian's libmaxmind-db-writer-perl (MaxMind::DB::Writer::Tree) and the
# core JSON::PP module. The input is validated strictly: an unknown key or a
# malformed value stops the build with the row's network in the message.
use strict;
use warnings;

use JSON::PP ();
use MaxMind::DB::Writer::Tree ();

my %FLAGS = map { $_ => 1 } qw(
    is_anonymous is_anonymous_vpn is_hosting_provider
    is_public_proxy is_residential_proxy is_tor_exit_node
);
my %ROW_KEYS = map { $_ => 1 } qw(
    network city country registered_country latitude longitude
    accuracy_radius asn as_org asn_in anonymous note
);

# Every key at every depth gets an explicit MaxMind DB type.
my %KEY_TYPES = (
    city                           => 'map',
    country                        => 'map',
    registered_country             => 'map',
    location                       => 'map',
    names                          => 'map',
    en                             => 'utf8_string',
    iso_code                       => 'utf8_string',
    latitude                       => 'double',
    longitude                      => 'double',
    accuracy_radius                => 'uint16',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
    map { $_ => 'boolean' } keys %FLAGS,
);

sub key_type {
    my ($key) = @_;
    my $type = $KEY_TYPES{$key};
    die "make-fixture-mmdb: no MaxMind DB type for key '$key'\n"
        unless defined $type;
    return $type;
}

sub new_tree {
    my ( $type, $ip_version, $what ) = @_;
    return MaxMind::DB::Writer::Tree->new(
        ip_version    => $ip_version,
        record_size   => 24,
        database_type => $type,
        languages     => ['en'],
        description   => {
            en => "loginrisk test fixture: $what (fake data, tests and demo only)"
        },
        map_key_type_callback => \&key_type,
        # Documentation and benchmarking ranges are "reserved"; keep them.
        remove_reserved_networks => 0,
        # ::ffff:a.b.c.d and 6to4 resolve like in MaxMind's real databases.
        alias_ipv6_to_ipv4 => ( $ip_version == 6 ? 1 : 0 ),
    );
}

sub fail {
    my ( $row, $msg ) = @_;
    my $net = ref $row eq 'HASH' && defined $row->{network}
        ? $row->{network} : '(no network)';
    die "make-fixture-mmdb: $net: $msg\n";
}

sub check_number {
    my ( $row, $key, $min, $max, $integer ) = @_;
    my $v = $row->{$key};
    fail( $row, "$key must be a number" )
        unless defined $v && !ref $v
        && $v =~ /\A-?[0-9]+(?:\.[0-9]+)?\z/;
    fail( $row, "$key must be an integer" ) if $integer && $v =~ /\./;
    fail( $row, "$key out of range [$min, $max]" ) if $v < $min || $v > $max;
}

sub check_text {
    my ( $row, $key, $re ) = @_;
    my $v = $row->{$key};
    fail( $row, "$key must be a string" ) unless defined $v && !ref $v;
    fail( $row, "$key has a bad value '$v'" ) unless $v =~ $re;
}

sub check_flags {
    my ($row) = @_;
    my $flags = $row->{anonymous};
    fail( $row, 'anonymous must be an object' ) unless ref $flags eq 'HASH';
    for my $f ( sort keys %$flags ) {
        fail( $row, "unknown anonymous flag '$f'" ) unless $FLAGS{$f};
        fail( $row, "$f must be true or false" )
            unless JSON::PP::is_bool( $flags->{$f} );
    }
}

sub check_row {
    my ($row) = @_;
    fail( $row, 'row must be an object' ) unless ref $row eq 'HASH';
    for my $k ( sort keys %$row ) {
        fail( $row, "unknown key '$k'" ) unless $ROW_KEYS{$k};
    }
    check_text( $row, 'network',
        qr{\A(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f:]+)/[0-9]{1,3}\z} );
    my ($len) = $row->{network} =~ m{/([0-9]+)\z};
    fail( $row, 'prefix length too long' )
        if $len > ( $row->{network} =~ /:/ ? 128 : 32 );
    check_text( $row, 'city', qr/\A\S(?:.*\S)?\z/ ) if exists $row->{city};
    for my $k (qw(country registered_country)) {
        check_text( $row, $k, qr/\A[A-Z]{2}\z/ ) if exists $row->{$k};
    }
    my @loc = grep { exists $row->{$_} } qw(latitude longitude accuracy_radius);
    fail( $row, 'latitude, longitude and accuracy_radius go together' )
        if @loc && @loc != 3;
    if (@loc) {
        check_number( $row, 'latitude',        -90,  90,    0 );
        check_number( $row, 'longitude',       -180, 180,   0 );
        check_number( $row, 'accuracy_radius', 1,    65535, 1 );
    }
    fail( $row, 'asn and as_org go together' )
        if exists $row->{asn} != exists $row->{as_org};
    if ( exists $row->{asn} ) {
        check_number( $row, 'asn', 1, 4294967295, 1 );
        check_text( $row, 'as_org', qr/\A\S(?:.*\S)?\z/ );
    }
    if ( exists $row->{asn_in} ) {
        check_text( $row, 'asn_in', qr/\A(?:asn|city)\z/ );
        fail( $row, 'asn_in needs asn' ) unless exists $row->{asn};
    }
    check_flags($row) if exists $row->{anonymous};
}

# The City record: the GeoIP2-City layout, limited to what the agent reads.
sub city_record {
    my ($row) = @_;
    my %rec;
    $rec{city} = { names => { en => $row->{city} } } if exists $row->{city};
    $rec{country} = { iso_code => $row->{country} } if exists $row->{country};
    my $reg = $row->{registered_country} // $row->{country};
    $rec{registered_country} = { iso_code => $reg } if defined $reg;
    if ( exists $row->{latitude} ) {
        $rec{location} = {
            latitude        => 0.0 + $row->{latitude},
            longitude       => 0.0 + $row->{longitude},
            accuracy_radius => 0 + $row->{accuracy_radius},
        };
    }
    if ( ( $row->{asn_in} // 'asn' ) eq 'city' ) {
        %rec = ( %rec, asn_record($row) );
    }
    return \%rec;
}

sub asn_record {
    my ($row) = @_;
    return (
        autonomous_system_number       => 0 + $row->{asn},
        autonomous_system_organization => $row->{as_org},
    );
}

sub anonymous_record {
    my ($row) = @_;
    my $flags = $row->{anonymous};
    return { map { $_ => ( $flags->{$_} ? 1 : 0 ) } keys %$flags };
}

sub read_rows {
    my ($path) = @_;
    open my $fh, '<:raw', $path
        or die "make-fixture-mmdb: cannot read $path: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $doc = eval { JSON::PP->new->utf8->relaxed(0)->decode($text) };
    die "make-fixture-mmdb: $path: bad JSON: $@" unless defined $doc;
    die "make-fixture-mmdb: $path: needs a 'networks' array\n"
        unless ref $doc eq 'HASH' && ref $doc->{networks} eq 'ARRAY';
    check_row($_) for @{ $doc->{networks} };
    return $doc->{networks};
}

sub write_tree {
    my ( $tree, $path ) = @_;
    my $tmp = "$path.tmp.$$";
    my $ok = eval {
        open my $fh, '>:raw', $tmp or die "cannot write $tmp: $!\n";
        $tree->write_tree($fh);
        close $fh or die "cannot write $tmp: $!\n";
        rename $tmp, $path or die "cannot rename $tmp to $path: $!\n";
        1;
    };
    return if $ok;
    my $why = $@;
    unlink $tmp;
    die "make-fixture-mmdb: $why";
}

sub insert_row {
    my ( $row, $city, $city4, $asn, $anon ) = @_;
    my $net = $row->{network};
    my $rec = city_record($row);
    if (%$rec) {
        $city->insert_network( $net, $rec );
        $city4->insert_network( $net, $rec ) unless $net =~ /:/;
    }
    if ( exists $row->{asn} && ( $row->{asn_in} // 'asn' ) eq 'asn' ) {
        $asn->insert_network( $net, { asn_record($row) } );
    }
    if ( exists $row->{anonymous} ) {
        $anon->insert_network( $net, anonymous_record($row) );
    }
}

sub main {
    die "usage: $0 geo-fixtures.json OUT_DIR\n" unless @ARGV == 2;
    my ( $data, $out ) = @ARGV;
    my $rows = read_rows($data);

    my $city = new_tree( 'GeoIP2-City', 6, 'city' );
    my $city4 = new_tree( 'GeoIP2-City', 4, 'city, IPv4 only' );
    my $asn = new_tree( 'GeoLite2-ASN', 6, 'ASN' );
    my $anon = new_tree( 'GeoIP2-Anonymous-IP', 6, 'anonymous IP' );

    # Insert in file order: a more specific network listed after its parent
    # (2001:db8:1::/48 after 2001:db8::/32) overrides that part of it.
    for my $row (@$rows) {
        eval { insert_row( $row, $city, $city4, $asn, $anon ); 1 }
            or fail( $row, "cannot insert: $@" );
    }
    write_tree( $city,  "$out/loginrisk-city.mmdb" );
    write_tree( $city4, "$out/loginrisk-city-ipv4.mmdb" );
    write_tree( $asn,   "$out/loginrisk-asn.mmdb" );
    write_tree( $anon,  "$out/loginrisk-anonymous.mmdb" );
}

main();
